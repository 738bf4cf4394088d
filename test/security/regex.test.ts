/**
 * Issue 14, part 3: every regular expression in src/ and config/ runs in linear time. Each
 * is found by walking the TypeScript syntax tree (literals and `new RegExp('…')`) and the
 * compiled data files (config/bounce-rules.yaml, config/abuse-words.yaml), and checked by recheck, a ReDoS
 * detector that proves super-linear backtracking with an attack string.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { checkSync } from 'recheck';
import t from 'tap';
import ts from 'typescript';
import { abuseWords } from '../../src/parse/abuse/words.js';
import { loadBounceRules } from '../../src/parse/bounce/index.js';

const root = new URL('../../', import.meta.url).pathname;
// recheck's checks take ~40 s for the ~270 expressions on a busy 2-core machine.
t.setTimeout(300_000);

interface Found {
  where: string;
  source: string;
  flags: string;
}

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (p.endsWith('.ts')) yield p;
  }
}

function regexesIn(path: string): Found[] {
  const src = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const out: Found[] = [];
  const at = (n: ts.Node) => `${relative(root, path)}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
  const visit = (n: ts.Node): void => {
    if (n.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const text = n.getText();
      const end = text.lastIndexOf('/');
      out.push({ where: at(n), source: text.slice(1, end), flags: text.slice(end + 1) });
    } else if (ts.isNewExpression(n) && ts.isIdentifier(n.expression) && n.expression.text === 'RegExp' && n.arguments?.[0] && ts.isStringLiteralLike(n.arguments[0])) {
      const flags = n.arguments[1] && ts.isStringLiteralLike(n.arguments[1]) ? n.arguments[1].text : '';
      out.push({ where: at(n), source: n.arguments[0].text, flags });
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return out;
}

function regexesInData(file: string, compiled: unknown): Found[] {
  const out: Found[] = [];
  const walk = (v: unknown, path: string): void => {
    if (v instanceof RegExp) out.push({ where: `${file} ${path}`, source: v.source, flags: v.flags });
    else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object' && !(v instanceof Map)) for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
  };
  walk(compiled, '');
  return out;
}

t.test('no regular expression in src/ or config/ backtracks super-linearly', async (t) => {
  const data = [...regexesInData('config/bounce-rules.yaml', loadBounceRules()), ...regexesInData('config/abuse-words.yaml', abuseWords())];
  t.ok(data.some((r) => r.where.startsWith('config/abuse-words.yaml phishing')), 'the phishing terms are walked');
  const all = [...[...files(join(root, 'src'))].flatMap(regexesIn), ...data];
  t.ok(all.length > 50, `${all.length} regular expressions found`);
  const offenders: string[] = [];
  for (const r of all) {
    const d = checkSync(r.source, r.flags.replace(/[gy]/g, ''), { timeout: 300 });
    if (d.status !== 'vulnerable') continue;
    const name = `${r.where} /${r.source}/${r.flags}`;
    offenders.push(`${name} (${d.complexity.type}, e.g. ${JSON.stringify(d.attack.pattern).slice(0, 80)})`);
  }
  t.same(offenders, [], 'super-linear regexes');
});
