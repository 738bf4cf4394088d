/** Runs the built gateway (dist/main.js) as a child process, as `npm start` does. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ChildGateway {
  proc: ChildProcess;
  smtpPort: number;
  httpPort: number;
  exited: Promise<number | null>;
  stderr(): string;
}

export const MAIN = new URL('../../dist/main.js', import.meta.url).pathname;
/** bin/gateway: dist/main.js with the node options and environment the gateway runs with. */
export const BIN = new URL('../../bin/gateway', import.meta.url).pathname;

/** Starts dist/main.js under this node; `{ bin: true }` starts it through bin/gateway instead. */
export async function startChild(env: NodeJS.ProcessEnv, cwd?: string, o: { bin?: boolean } = {}): Promise<ChildGateway> {
  const proc = spawn(o.bin ? 'sh' : process.execPath, [o.bin ? BIN : MAIN], {
    cwd,
    env: {
      PATH: process.env.PATH,
      ABUSEGATE_SMTP_PORT: '0',
      ABUSEGATE_HTTP_PORT: '0',
      ABUSEGATE_POLICY_PORT: '0',
      // Test clients connect from loopback: their feedback reports are trusted by IP range.
      ABUSEGATE_TRUSTED_REPORTERS: '127.0.0.0/8',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const ports = await new Promise<{ smtp: number; http: number }>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      try {
        const j = JSON.parse(line);
        if (j.code === 'STARTED') resolve({ smtp: j.smtp, http: j.http });
      } catch {
        // not JSON: ignore
      }
    });
    exited.then((code) => reject(new Error(`gateway exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error('gateway did not start in 30 s')), 30_000).unref();
  });
  return { proc, smtpPort: ports.smtp, httpPort: ports.http, exited, stderr: () => err };
}
