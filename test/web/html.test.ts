import t from 'tap';
import { escapeHtml, html, layout, trusted } from '../../src/web/html.js';
import { checkFormToken, mintFormToken } from '../../src/web/formtoken.js';
import { loadCatalogue } from '../../src/web/i18n.js';

t.test('every interpolation is escaped unless it is SafeHtml', async (t) => {
  const evil = `<script>alert(1)</script>"'\`&`;
  t.equal(html`<p title="${evil}">${evil}</p>`.text, '<p title="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&#96;&amp;">&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&#96;&amp;</p>');
  t.equal(html`<div>${html`<b>${'<i>'}</b>`}</div>`.text, '<div><b>&lt;i&gt;</b></div>', 'nested html is kept, its own values escaped');
  t.equal(html`${['<a>', html`<br>`, null, undefined, false, 0]}`.text, '&lt;a&gt;<br>0', 'arrays joined; nullish and false print nothing');
  t.equal(html`${trusted('<hr>')}`.text, '<hr>');
  // A plain object that looks like SafeHtml is not trusted: only our symbol marks markup.
  t.equal(html`${{ text: '<x>' } as unknown as string}`.text, '[object Object]');
  t.equal(escapeHtml('a&b'), 'a&amp;b');
});

t.test('the layout sets the language and escapes the title', async (t) => {
  const page = layout({ lang: 'de', title: '<T>', body: html`<p>x</p>` }).text;
  t.match(page, '<html lang="de">');
  t.match(page, '<title>&lt;T&gt;</title>');
  t.notMatch(page, /<script>|<style>|style=/, 'no inline script or style');
});

t.test('form tokens: signed, timed, bound', async (t) => {
  const key = Buffer.alloc(32, 7);
  const tok = mintFormToken(key, 'report', 1_000_000);
  const lim = { minMs: 2000, maxMs: 3_600_000 };
  t.equal(checkFormToken(key, 'report', tok, 1_005_000, lim), 'ok');
  t.equal(checkFormToken(key, 'report', tok, 1_000_500, lim), 'too-fast');
  t.equal(checkFormToken(key, 'report', tok, 1_000_000 + 3_600_001, lim), 'expired');
  t.equal(checkFormToken(key, 'desk', tok, 1_005_000, lim), 'invalid', 'another purpose');
  t.equal(checkFormToken(Buffer.alloc(32, 8), 'report', tok, 1_005_000, lim), 'invalid', 'another key');
  t.equal(checkFormToken(key, 'report', tok.slice(0, -1) + (tok.endsWith('A') ? 'B' : 'A'), 1_005_000, lim), 'invalid', 'altered');
  const bound = mintFormToken(key, 'csrf', 1_000_000, 'session-1');
  t.equal(checkFormToken(key, 'csrf', bound, 1_005_000, lim, 'session-1'), 'ok');
  t.equal(checkFormToken(key, 'csrf', bound, 1_005_000, lim, 'session-2'), 'invalid', 'bound to another session');
  for (const bad of [undefined, 42, '', '.', 'x'.repeat(81), 'ZZ.abc', '1.']) t.equal(checkFormToken(key, 'report', bad, 1_005_000, lim), 'invalid');
});

t.test('catalogue: English fallback, ?lang= first, then Accept-Language by q', async (t) => {
  const c = loadCatalogue('core');
  t.same(c.languages.slice(0, 1), ['en']);
  t.ok(c.languages.includes('de'));
  t.equal(c.pick(undefined, 'de-CH,de;q=0.9,en;q=0.8'), 'de');
  t.equal(c.pick(undefined, 'fr-FR, en;q=0.5, de;q=0.7'), 'de');
  t.equal(c.pick('en', 'de'), 'en');
  t.equal(c.pick('xx', 'en'), 'en');
  t.equal(c.pick(undefined, undefined), 'en');
  t.equal(c.pick(undefined, ';;;,,q=,' + 'de;q=0.1,'.repeat(10000)), 'de', 'a long header is cut, not choked on');
  t.equal(c.t('de', 'skip'), 'Zum Inhalt springen');
  t.throws(() => c.t('en', 'no-such-key'));
});
