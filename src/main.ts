/** `npm start`: load the configuration, start the gateway, stop it on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config/load.js';
import { Gateway } from './gateway.js';
import { RedisSettingsError } from './store/health.js';
import { LocalRedisError } from './store/local.js';
import { TokenError } from './token/token.js';

async function main(): Promise<void> {
  const config = loadConfig({ env: process.env });
  const gw = await Gateway.start({ config });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gw.log.info({ code: 'SHUTDOWN', signal }, 'stopping');
    gw.stop().then(
      () => process.exit(0),
      (err: Error) => {
        gw.log.error({ code: 'SHUTDOWN_FAILED', err: err.message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: Error & { code?: string }) => {
  // Start-up problems are the operator's to fix: one line, no stack trace.
  const known = err instanceof ConfigError || err instanceof LocalRedisError || err instanceof RedisSettingsError || err instanceof TokenError;
  const text = known ? err.message : err.code === 'EADDRINUSE' ? `address in use: ${err.message}` : `start failed: ${err.message}`;
  process.stderr.write(`abusegate: ${text}\n`);
  process.exit(1);
});
