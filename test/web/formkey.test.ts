import t from 'tap';
import { Redis } from 'ioredis';
import { Keys } from '../../src/store/keys.js';
import { deriveFormKey, formKeySource } from '../../src/store/formkey.js';
import { testRedis } from '../helpers/redis.js';

t.test('the form-token key: HKDF of the token secret, else one random key shared through Redis', async (t) => {
  const server = await testRedis(t);
  const a = new Redis({ path: server.url });
  const b = new Redis({ path: server.url });
  t.teardown(() => {
    a.disconnect();
    b.disconnect();
  });
  const keys = new Keys('fk' + process.pid, 4);

  const k1 = await formKeySource('a:secret-0123456789abcdef', a, keys)();
  t.same(k1, deriveFormKey('a:secret-0123456789abcdef'), 'derived, stateless');
  t.equal(k1.length, 32);
  t.notSame(k1, deriveFormKey('a:another-secret-0123456789'));
  t.notSame(k1, Buffer.from('a:secret-0123456789abcdef'), 'not the secret itself');
  t.equal(await a.exists(keys.formKey()), 0, 'nothing written when derived');

  // Two instances without a secret, starting at once, agree on one key.
  const [x, y] = await Promise.all([formKeySource(null, a, keys)(), formKeySource(null, b, keys)()]);
  t.equal(x.length, 32);
  t.same(x, y, 'both instances use the key the first SET NX wrote');
  t.same(Buffer.from((await a.get(keys.formKey()))!, 'base64'), x);
  const again = await formKeySource(null, b, keys)();
  t.same(again, x, 'a later instance reads the same key');
});
