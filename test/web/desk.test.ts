/**
 * The desk console without a browser: operators (scrypt, CLI), sign-in limits and session
 * rotation, the bulk import (API and CSV upload) counting in preflight, pure helpers.
 */
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { ManualClock } from '../../src/clock.js';
import { Desk } from '../../src/desk.js';
import { Effects } from '../../src/effects.js';
import { abuseInput } from '../../src/ingest.js';
import { createLogger } from '../../src/log.js';
import { unreadableReport } from '../../src/parse/report.js';
import { runOperators } from '../../src/cli/operators.js';
import { loadConfig } from '../../src/config/load.js';
import { csvRecords, parseImportCsv } from '../../src/parse/import.js';
import { Operators, PasswordError } from '../../src/store/operators.js';
import { priority } from '../../src/web/desk/routes.js';
import { safeNext } from '../../src/web/desk/session.js';
import { rateChart } from '../../src/web/desk/chart.js';
import { addOperator, fileReport, OPERATOR } from '../helpers/desk.js';
import { startGateway } from '../helpers/gateway.js';
import { testRedis } from '../helpers/redis.js';

const ADMIN = 'desk-admin-token-123-0123456789abcdefghijklmnop';

t.test('desk console (HTTP)', async (t) => {
  const redis = await testRedis(t);
  const clock = new ManualClock(Date.parse('2026-07-01T09:00:00Z'));
  const gw = await startGateway(t, { redisUrl: redis.url, clock, overrides: { admin: { token: ADMIN }, desk: { signInPerMinute: 100, signInPerNamePerMinute: 2 }, vetting: { resolver: '127.0.0.1:9', rdapBaseUrl: 'http://127.0.0.1:9/', timeoutMs: 300 } } });
  const base = `http://127.0.0.1:${gw.httpPort}`;
  const ops = new Operators(gw.redis, gw.store.keys);

  const csrfOf = (page: string) => /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? '';
  const signIn = async (name: string, password: string, cookie = '') => {
    const form = await (await fetch(`${base}/desk/sign-in`)).text();
    return fetch(`${base}/desk/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams({ csrf: csrfOf(form), name, password, next: '/desk/quarantine' }).toString(),
    });
  };
  const cookieOf = (res: Response) => /^(ag_desk=[^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';

  t.test('operators: scrypt hashes, 12 characters at least, removal ends sessions', async (t) => {
    await t.rejects(ops.set('bob', 'short', 0), { message: /at least 12 characters/ });
    await t.rejects(ops.set('bob', 'x'.repeat(2000), 0), PasswordError);
    t.equal(await ops.set('bob', 'a long enough password', 0), true);
    const stored = await gw.redis.hget(gw.store.keys.desk.operators, 'bob');
    t.notMatch(stored!, 'a long enough password', 'the password is not stored');
    t.match(JSON.parse(stored!), { N: 32768, r: 8, p: 1 });
    t.equal(await ops.verify('bob', 'a long enough password'), true);
    t.equal(await ops.verify('bob', 'a long enough passworD'), false);
    t.equal(await ops.verify('nobody', 'a long enough password'), false);
    const sid = await ops.createSession('bob', 60_000);
    t.equal(await ops.session(sid, 60_000), 'bob');
    t.equal(await ops.remove('bob'), true);
    t.equal(await ops.session(sid, 60_000), null, 'a removed operator is signed out');
    const idle = await ops.createSession('alice', 60_000);
    await addOperator(gw);
    t.equal(await ops.session(idle, 40), 'alice');
    await new Promise((r) => setTimeout(r, 120));
    t.equal(await ops.session(idle, 40), null, 'the session ended after the idle time');
  });

  t.test('abusegate operators add|list|remove', async (t) => {
    const run = async (args: string[], stdin = '') => {
      const out = new PassThrough();
      const err = new PassThrough();
      let o = '';
      let e = '';
      out.on('data', (d) => (o += d));
      err.on('data', (d) => (e += d));
      // The CLI talks to the test Redis (under the default prefix).
      const code = await runOperators(args, { out, err, stdin: Readable.from([stdin]), env: { REDIS_URL: redis.url} });
      return { code, out: o, err: e };
    };
    t.equal((await run(['add', 'carol'])).code, 2, 'needs --password-stdin');
    t.equal((await run(['add', 'carol', '--password-stdin'], 'too short\n')).code, 1);
    const added = await run(['add', 'carol', '--password-stdin'], 'a perfectly fine passphrase\nignored');
    t.equal(added.code, 0, added.err);
    t.match(added.out, 'added carol');
    t.match((await run(['list'])).out, /^carol\t\d{4}-/m);
    t.equal((await run(['remove', 'carol'])).code, 0);
    t.equal((await run(['remove', 'carol'])).code, 1, 'unknown name');
    t.equal((await run(['add', 'bad name', '--password-stdin'], 'a perfectly fine passphrase')).code, 2);
  });

  t.test('sign-in: a new session id each time, limited per name', async (t) => {
    const first = await signIn(OPERATOR.name, OPERATOR.password);
    t.equal(first.status, 303);
    t.equal(first.headers.get('location'), '/desk/quarantine', 'back to where the operator was going');
    const setCookie = first.headers.get('set-cookie') ?? '';
    t.match(setCookie, /HttpOnly/);
    t.match(setCookie, /SameSite=Strict/);
    t.match(setCookie, /Path=\/desk/);
    t.notMatch(setCookie, /Secure/, 'not on plain HTTP');
    const c1 = cookieOf(first);
    const second = await signIn(OPERATOR.name, OPERATOR.password, c1);
    const c2 = cookieOf(second);
    t.not(c1, c2, 'rotated on sign-in');
    t.equal((await fetch(`${base}/desk`, { headers: { cookie: c1 }, redirect: 'manual' })).status, 302, 'the old session ended');
    t.equal((await fetch(`${base}/desk`, { headers: { cookie: c2 }, redirect: 'manual' })).status, 200);
    const evil = await signIn(OPERATOR.name, OPERATOR.password);
    t.equal(evil.status, 429, 'the third attempt of the minute for this name is refused');
    t.equal((await signIn('someone', 'x'.repeat(12))).status, 401, 'another name is not limited');
    clock.advance(60_000);
    const outside = await fetch(`${base}/desk/sign-in`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: 'forged', name: OPERATOR.name, password: OPERATOR.password, next: 'https://evil.example/' }).toString(),
    });
    t.equal(outside.status, 400, 'a sign-in form not served by us is refused');
    t.equal(cookieOf(outside), '');
  });

  t.test('import: original reasons count in preflight; CSV upload through the desk', async (t) => {
    clock.advance(60_000);
    const res = await fetch(`${base}/v1/suppressions/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        account: 'migrant',
        rows: [
          { address: 'gone@Example.COM', reason: 'hard-bounce', at: '2025-03-01T00:00:00Z' },
          { address: 'angry@example.com', reason: 'complaint', at: '2025-04-01' },
          { address: 'nope', reason: 'complaint', at: '2025-04-01' },
          { address: 'future@example.com', reason: 'complaint', at: '2099-01-01' },
        ],
      }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    t.equal(res.status, 200, JSON.stringify(body));
    t.match(body, { received: 4, added: 2, exists: 0, invalid: [{ index: 2 }, { index: 3 }] });
    const rec = await gw.store.getSuppression('migrant', 'email', 'gone@example.com');
    t.match(rec, { reason: 'hard-bounce', source: 'import', at: '2025-03-01T00:00:00.000Z' }, 'the original reason and date are kept');
    t.equal((await fetch(`${base}/v1/suppressions/import`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"account":"x","rows":[]}' })).status, 401);

    clock.advance(60_000);
    const cookie = cookieOf(await signIn(OPERATOR.name, OPERATOR.password));
    t.ok(cookie, 'signed in');
    const page = await (await fetch(`${base}/desk/import`, { headers: { cookie } })).text();
    const fd = new FormData();
    fd.set('csrf', csrfOf(page));
    fd.set('account', 'migrant');
    fd.set('channel', 'email');
    fd.set('file', new Blob(['address,reason,at\r\nold@example.com,unsubscribe,2024-12-24T10:00:00Z\r\n"quoted,bad",complaint,2024-01-01\r\ngone@example.com,complaint,2024-01-01\r\n'], { type: 'text/csv' }), 'export.csv');
    const up = await fetch(`${base}/desk/import`, { method: 'POST', body: fd, headers: { cookie }, redirect: 'manual' });
    t.equal(up.status, 303);
    t.match(up.headers.get('location'), 'added=1&exists=1&invalid=1');
    t.match(await gw.store.getSuppression('migrant', 'email', 'old@example.com'), { reason: 'unsubscribe', source: 'import', at: '2024-12-24T10:00:00.000Z' });
    t.match(await gw.store.getSuppression('migrant', 'email', 'gone@example.com'), { reason: 'hard-bounce' }, 'an existing row is kept');

    const pf = await fetch(`${base}/v1/campaigns/preflight`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ account: 'migrant', campaign: 'first', recipients: ['gone@example.com', 'angry@example.com', 'old@example.com', 'fresh@example.com'] }),
    });
    const pfBody = (await pf.json()) as { stats: { suppressed: unknown } };
    t.match(pfBody.stats.suppressed, { count: 3, account: { 'hard-bounce': { count: 1 }, complaint: { count: 1 }, unsubscribe: { count: 1 }, manual: { count: 0 } } }, 'imported rows count by their reason, not as manual');
    const audit = await gw.store.readAudit(20);
    t.ok(audit.some((a) => a.action === 'suppression.import' && a.by === 'alice' && a.added === '1'), 'the upload is audited with the operator');
  });

  t.test('a POST needs the CSRF token of the session', async (t) => {
    clock.advance(60_000);
    const cookie = cookieOf(await signIn(OPERATOR.name, OPERATOR.password));
    const page = await (await fetch(`${base}/desk/global`, { headers: { cookie } })).text();
    const post = (csrf?: string) =>
      fetch(`${base}/desk/global/add`, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ address: 'trap@example.net', reason: 'spam-trap', channel: 'email', confirm: 'yes', ...(csrf ? { csrf } : {}) }).toString(),
      });
    t.equal((await post()).status, 403, 'no token');
    t.equal((await post('lq3k.' + 'x'.repeat(43))).status, 403, 'a made-up token');
    t.equal(await gw.store.getSuppression('migrant', 'email', 'trap@example.net'), null);
    const ok = await post(csrfOf(page));
    t.equal(ok.status, 303, 'with the token');
    t.match((await gw.store.checkSuppressions('anyone', 'email', ['trap@example.net']))[0], { scope: 'global', reason: 'spam-trap', by: 'alice' });
  });

  t.test('queue priority and search', async (t) => {
    const id = await fileReport(gw, { account: 'prio', campaign: 'c1', description: 'spam', recipient: 'who@recipient.example' });
    clock.advance(120_000);
    const cookie = cookieOf(await signIn(OPERATOR.name, OPERATOR.password));
    const q = await (await fetch(`${base}/desk?q=${encodeURIComponent('who@recipient.example')}`, { headers: { cookie } })).text();
    t.match(q, id, 'found by recipient address');
    const byId = await fetch(`${base}/desk?q=${id}`, { headers: { cookie }, redirect: 'manual' });
    t.equal(byId.status, 303, 'a case id goes straight to the case');
    t.equal(byId.headers.get('location'), `/desk/cases/${id}`);
    const none = await (await fetch(`${base}/desk?q=nobody%40nowhere.example`, { headers: { cookie } })).text();
    t.notMatch(none, id);
  });

  t.test('the case page lists each report\'s attachments and link domains, as text', async (t) => {
    clock.advance(60_000);
    const log = createLogger('silent');
    const desk = new Desk(gw.store, new Effects(gw.store, gw.config, clock, log), gw.config, clock, log);
    const sha = 'ab'.repeat(32);
    // What the parser hands over for abuse@ mail (report.abuse), through the same input the mail path builds.
    const parsed = { ...unreadableReport(''), error: undefined, kind: 'abuse' as const, abuse: { channel: 'email' as const, reporter: 'person@recipient.example', originalFound: 'attached' as const, phishing: false, phishingTerms: [], originDomains: [], tokenState: 'missing' as const,
      attachments: [{ name: 'screenshot <img src=x onerror=alert(1)>.png', type: 'image/png', size: 204_800, sha256: sha }, ...Array.from({ length: 60 }, (_, i) => ({ name: `f${i}.txt`, type: 'text/plain', size: i, sha256: sha }))],
      linkDomains: ['login-bank.example', 'xn--bcher-kva.example', ...Array.from({ length: 150 }, (_, i) => `d${i}.example`)] } };
    const input = abuseInput(parsed, 'rep-evidence', 'fp-evidence', { mailFrom: '' });
    t.equal(input.attachments?.length, 61, 'abuseInput copies the parser\'s attachments');
    const out = await desk.report({ ...input, clientIp: '192.0.2.1', trustedReporter: false });
    const kept = (await gw.store.getCase(out.caseId))!.reports[0];
    t.equal(kept.attachments?.length, 50, 'bounded: 50 attachments');
    t.equal(kept.linkDomains?.length, 100, 'bounded: 100 link domains');
    const cookie = cookieOf(await signIn(OPERATOR.name, OPERATOR.password));
    const page = await (await fetch(`${base}/desk/cases/${out.caseId}`, { headers: { cookie } })).text();
    t.match(page, 'screenshot &lt;img src=x onerror=alert(1)&gt;.png', 'the file name is text');
    t.notMatch(page, '<img src=x');
    t.match(page, /<td class="mono">image\/png<\/td><td class="num">200\.0 KiB<\/td><td class="mono hash">(ab){32}<\/td>/, 'type, size and SHA-256');
    t.match(page, '<li>login-bank.example</li>');
    t.match(page, '<li>xn--bcher-kva.example</li>');
    const none = await (await fetch(`${base}/desk/cases/${await fileReport(gw, { account: 'plain', campaign: 'c1', description: 'spam' })}`, { headers: { cookie } })).text();
    t.notMatch(none, 'SHA-256', 'a report without attachments shows none');
  });

  t.test('the account page lists the preflight decisions of recent campaigns, the newest 50', async (t) => {
    clock.advance(60_000);
    const preflight = (campaign: string, recipients: string[]) =>
      fetch(`${base}/v1/campaigns/preflight`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ account: 'checked', campaign, recipients }) });
    for (let i = 0; i < 50; i++) t.equal((await preflight(`filler-${i}`, ['a@example.com'])).status, 200);
    // A list of nothing but invalid addresses is not sent as it is (and announced as before).
    const blocked = (await (await preflight('spring', ['not-an-address', 'neither', 'nor-this'])).json()) as { decision: string; reasons: Array<{ code: string }> };
    t.not(blocked.decision, 'send');
    const kept = await gw.store.recentPreflights('checked');
    t.equal(kept.length, 50, 'capped');
    t.match(kept[0], { campaign: 'spring', decision: blocked.decision, size: 3, reasons: [{ code: blocked.reasons[0].code }] }, 'newest first, with its reasons');
    t.notOk(kept.some((p) => p.campaign === 'filler-0'), 'the oldest dropped off');
    const events = (await gw.store.outboxEvents(gw.store.keys.partitionOf('checked'))).filter((e) => e.data.account === 'checked');
    t.same(events.map((e) => e.type), [`campaign.${blocked.decision === 'block' ? 'blocked' : 'review'}`], 'a send is recorded, not announced');
    const cookie = cookieOf(await signIn(OPERATOR.name, OPERATOR.password));
    const page = await (await fetch(`${base}/desk/accounts/checked`, { headers: { cookie } })).text();
    const section = page.slice(page.indexOf('id="preflights"'), page.indexOf('id="suppressions"'));
    t.match(section, '<td class="mono">spring</td>');
    t.match(section, `">${blocked.decision}</span>`);
    t.match(section, blocked.reasons[0].code);
    t.match(section, 'filler-49');
    t.equal(section.match(/<tr>/g)?.length, 51, 'a header row and 50 decisions');
  });

  t.test('the account page shows the vetting signals and history, and vets again', async (t) => {
    clock.advance(60_000);
    const cookie = cookieOf(await signIn(OPERATOR.name, OPERATOR.password));
    const before = await (await fetch(`${base}/desk/accounts/vetted`, { headers: { cookie } })).text();
    t.match(before, 'This account has not been vetted.');
    const vet = await fetch(`${base}/v1/accounts/vetted/vetting`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'x@mailinator.com', domain: 'vetted.example' }) });
    t.equal(vet.status, 201);
    const page = await (await fetch(`${base}/desk/accounts/vetted`, { headers: { cookie } })).text();
    t.match(page, /Latest: score \d+, (reject|review)/);
    t.match(page, 'email.disposable');
    t.match(page, 'mailchecker', 'the source is named');
    t.match(page, 'domain.mx.unavailable', 'an unreachable source is shown as such');
    const again = await fetch(`${base}/desk/accounts/vetted/vetting`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf: csrfOf(page) }).toString() });
    t.equal(again.status, 303);
    const after = await (await fetch(`${base}/desk/accounts/vetted`, { headers: { cookie } })).text();
    t.match(after, 'History (2 results)');
    const hist = (await (await fetch(`${base}/v1/accounts/vetted/vetting`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { history: Array<{ by: string }> };
    t.equal(hist.history[0].by, OPERATOR.name, 'the re-run names the operator');
    const forged = await fetch(`${base}/desk/accounts/vetted/vetting`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=nope' });
    t.equal(forged.status, 403, 'no CSRF token, no re-run');
  });

  // Last: it moves the clock three weeks on.
  t.test('the account chart shows 30 days, beyond the hour buckets, the table the same numbers', async (t) => {
    const sent = await fetch(`${base}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify({ events: [{ type: 'sent', account: 'charted', count: 4000 }] }) });
    t.equal(sent.status, 202);
    for (let i = 0; i < 3; i++) await gw.store.recordMessage({ record: null, account: 'charted', channel: 'email', campaign: null, sample: null, recipients: [{ address: null, counter: 'c', suppression: null, event: null, fingerprint: null }], decision: null, now: clock.now() });
    const day = new Date(clock.now()).toISOString().slice(0, 10);
    clock.advance(21 * 86_400_000);
    t.equal((await gw.store.readAccount('charted', 'email', clock.now())).windows[1].sent, 0, 'the 7-day window has forgotten it');
    const cookie = cookieOf(await signIn(OPERATOR.name, OPERATOR.password));
    const page = await (await fetch(`${base}/desk/accounts/charted`, { headers: { cookie } })).text();
    t.match(page, `<tr><th scope="row">${day}</th><td class="num">4000</td><td class="num">3</td><td class="num">0.075 %</td><td class="num">0</td><td class="num">0.000 %</td></tr>`, 'the table has the day three weeks ago');
    t.equal(page.match(/<rect class="bar"/g)?.length, 1, 'one bar: the one day that sent');
    t.equal(page.match(/<circle class="dot complaint"/g)?.length, 1);
  });
});

t.test('pure parts', async (t) => {
  t.same(csvRecords('a,"b,c"\r\n"d""e",f\n\ng'), [['a', 'b,c'], ['d"e', 'f'], [''], ['g']]);
  const big = 'x@example.com,complaint,2024-01-01\n'.repeat(1000) + '"'.repeat(50_000);
  const started = Date.now();
  t.equal(parseImportCsv(big, 'email', Date.parse('2026-01-01')).rows.length, 1000);
  t.ok(Date.now() - started < 2000, 'linear on hostile quoting');
  for (const [v, want] of [
    ['/desk/cases/x', '/desk/cases/x'],
    ['/desk?q=a', '/desk?q=a'],
    ['//evil.example/desk', '/desk'],
    ['https://evil.example/', '/desk'],
    ['/desk//evil.example', '/desk'],
    ['/deskx', '/desk'],
    ['/desk/\\evil', '/desk'],
    [undefined, '/desk'],
  ] as const) t.equal(safeNext(v), want, String(v));
  const base = { id: 'case_x', status: 'open', channel: 'email', reporter: null, account: 'a', campaign: 'c', createdAt: '', updatedAt: '', reportCount: 1, suspicious: [] as string[], reports: [], notes: [], history: [] } as const;
  t.ok(priority({ ...base, suspicious: ['phishing-language'] }, false) > priority({ ...base, reportCount: 30 }, true), 'a suspicious signal outranks many reports');
  t.ok(priority({ ...base }, true) > priority({ ...base }, false), 'a suspended account ranks higher');
  const days = Array.from({ length: 30 }, (_, i) => ({ day: `2026-07-${String(i + 1).padStart(2, '0')}`, sent: i === 3 ? 0 : 1000, complaints: i === 29 ? 2 : 0, hardBounces: i === 29 ? 30 : 1 }));
  const svg = rateChart(days, { complaintWarn: 0.001, complaintSuspend: 0.003, bounceWarn: 0.02, bounceSuspend: 0.05 }, { title: '<T>', desc: 'd', complaintRate: 'c', bounceRate: 'b', sent: 's', warn: 'w', suspend: 'x' }).text;
  t.match(svg, '<title id="chart-title">&lt;T&gt;</title>');
  t.notMatch(svg, /style=|<script/);
  for (const line of ['w 0.10 %', 'x 0.30 %', 'w 2.00 %', 'x 5.00 %']) t.match(svg, `>${line}</text>`, `the line ${line}, each rate against its own`);
  t.equal(svg.match(/<rect class="bar"/g)?.length, 29, 'a bar for each day that sent');
  t.equal(svg.match(/<circle class="dot complaint"/g)?.length, 29, 'no rate for a day without sends');
});

t.test('desk.listener internal: the console only on the internal port', async (t) => {
  t.throws(() => loadConfig({ env: {}, overrides: { desk: { listener: 'internal' } } }), { message: /desk\.listener: internal needs http\.internalPort/ }, 'refused without an internal listener');
  const redis = await testRedis(t);
  const gw = await startGateway(t, { redisUrl: redis.url, clock: new ManualClock(Date.parse('2026-07-01T09:00:00Z')), overrides: { http: { internalPort: 0, internalHost: '127.0.0.1' }, desk: { listener: 'internal' } } });
  await addOperator(gw);
  const pub = `http://127.0.0.1:${gw.httpPort}`;
  const internal = `http://127.0.0.1:${gw.internalPort}`;
  for (const path of ['/desk', '/desk/sign-in', '/desk/cases/case_00000000000000000000000000', '/desk/no-such-page']) {
    const res = await fetch(pub + path, { redirect: 'manual' });
    t.equal(res.status, 404, `public ${path}: 404`);
    t.notMatch(await res.text(), /sign in/i);
  }
  t.equal((await fetch(`${pub}/desk/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=alice&password=x' })).status, 404, 'no sign-in on the public port');
  t.equal((await fetch(`${pub}/report`)).status, 200, 'the report page stays public');

  const stranger = await fetch(`${internal}/desk`, { redirect: 'manual' });
  t.equal(stranger.status, 302, 'the internal port serves the console (sign-in first)');
  const form = await fetch(`${internal}/desk/sign-in`);
  t.equal(form.status, 200);
  t.match(form.headers.get('content-security-policy') ?? '', "script-src 'self'", 'with the pages\' headers');
  const csrf = /name="csrf" value="([^"]+)"/.exec(await form.text())?.[1] ?? '';
  const signed = await fetch(`${internal}/desk/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ csrf, name: OPERATOR.name, password: OPERATOR.password, next: '/desk' }).toString() });
  t.equal(signed.status, 303, 'signed in over the internal port');
  const cookie = /^(ag_desk=[^;]+)/.exec(signed.headers.get('set-cookie') ?? '')?.[1] ?? '';
  const queue = await fetch(`${internal}/desk`, { headers: { cookie } });
  t.equal(queue.status, 200);
  const css = /href="(\/assets\/[^"]+\.css)"/.exec(await queue.text())?.[1];
  t.ok(css, 'the page links its stylesheet');
  t.equal((await fetch(internal + css)).status, 200, 'served on the internal port too');
  t.equal((await fetch(`${pub}/desk`, { headers: { cookie } })).status, 404, 'a session does not open the public port');
});
