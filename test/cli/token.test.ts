import { spawnSync } from 'node:child_process';
import t from 'tap';
import { createTokenCodec, parseTokenSecrets } from '../../src/token/token.js';

// The built CLI (npm test builds it first), as the platform runs it.
const CLI = new URL('../../dist/cli/index.js', import.meta.url).pathname;
const SECRET = 'a:cli-test-secret-0123456789abcdef-0123';

const run = (env: Record<string, string>, ...args: string[]) => spawnSync(process.execPath, [CLI, 'token', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } });

t.test('abusegate token --recipient R --short prints the recipient-bound VERP form', async (t) => {
  const r = run({ ABUSEGATE_TOKEN_SECRET: SECRET }, '--account', 'acme', '--campaign', 'spring', '--recipient', 'Jane@Example.com', '--short');
  t.equal(r.status, 0, r.stderr);
  const token = r.stdout.trim();
  t.match(token, /^[a-z2-7]+$/);
  t.ok(('bounces+' + token).length <= 64);
  const codec = createTokenCodec(parseTokenSecrets(SECRET));
  const c = codec.verify(token)!;
  t.match(c, { account: 'acme', campaign: 'spring', form: 'short' });
  t.ok(codec.boundTo(c, 'jane@example.com'));
  t.notOk(codec.boundTo(c, 'someone.else@example.com'));
});

t.test('a token secret under 32 bytes is refused with one line', async (t) => {
  const r = run({ ABUSEGATE_TOKEN_SECRET: 'only-twenty-bytes-xx' }, '--account', 'acme', '--campaign', 'spring');
  t.equal(r.status, 1, `exit ${r.status} ${r.signal ?? ''} ${r.stderr}`);
  t.match(r.stderr, /tokens\.secret: key 'a' is 20 bytes; a secret needs at least 32/);
  t.equal(r.stderr.trim().split('\n').length, 1);
});
