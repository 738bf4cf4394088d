/** `npm start`: load the configuration, start the gateway, stop it on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config/load.js';
import { Gateway } from './gateway.js';
import { createLogger, stdoutLog } from './log.js';
import { RedisSettingsError } from './store/health.js';
import { LocalRedisError } from './store/local.js';
import { TokenError } from './token/token.js';

async function main(): Promise<void> {
  const config = loadConfig({ env: process.env });
  // Listening before the start: a signal that comes while it runs (the embedded Redis is
  // coming up, the listeners are opening) stops the gateway once started, rather than
  // killing the process and leaving a redis-server behind.
  let gw: Gateway | null = null;
  let signalled: string | null = null;
  const stop = (signal: string) => (gw ? shutdown(gw, signal) : (signalled ??= signal));
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  gw = await Gateway.start({ config, log: createLogger(config.log.level, stdoutLog()) });
  // STARTED out now, not within 250 ms: supervisors and scripts wait for it.
  gw.log.flush();
  if (signalled) shutdown(gw, signalled);
}

let stopping = false;
function shutdown(gw: Gateway, signal: string): void {
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
}

main().catch((err: Error & { code?: string }) => {
  // Start-up problems are the operator's to fix: one line, no stack trace.
  const known = err instanceof ConfigError || err instanceof LocalRedisError || err instanceof RedisSettingsError || err instanceof TokenError;
  const text = known ? err.message : err.code === 'EADDRINUSE' ? `address in use: ${err.message}` : `start failed: ${err.message}`;
  process.stderr.write(`abusegate: ${text}\n`);
  process.exit(1);
});
