/** A real HTTP receiver on 127.0.0.1 port 0 that records every POST and answers as told. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Received {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  status: number;
  path: string;
}

/** Answer for one request: a status, or 'hang' (never answer). */
export type Answer = number | 'hang' | Promise<number>;

export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  /** Requests answered 2xx, by webhook-id. */
  delivered(): Set<string>;
  answer: (r: Omit<Received, 'status'>, nth: number) => Answer;
  /** Resolves when pred holds over what was received, or rejects at the deadline. */
  until(pred: (r: Receiver) => boolean, ms?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(t: { teardown(fn: () => unknown): void }): Promise<Receiver> {
  const hanging = new Set<ServerResponse>();
  const seen = new Map<string, number>();
  const waiters = new Set<() => void>();
  const rec: Receiver = {
    url: '',
    port: 0,
    received: [],
    delivered: () => new Set(rec.received.filter((r) => r.status >= 200 && r.status < 300).map((r) => r.id)),
    answer: () => 204,
    until(pred, ms = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred(rec)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`receiver: condition not met in ${ms} ms (${rec.received.length} requests)`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const base = {
        id: String(req.headers['webhook-id'] ?? ''),
        timestamp: String(req.headers['webhook-timestamp'] ?? ''),
        signature: String(req.headers['webhook-signature'] ?? ''),
        body: Buffer.concat(chunks).toString(),
        path: req.url ?? '/',
      };
      const nth = (seen.get(base.id) ?? 0) + 1;
      seen.set(base.id, nth);
      const a = await rec.answer(base, nth);
      if (a === 'hang') {
        hanging.add(res);
        rec.received.push({ ...base, status: 0 });
        for (const w of [...waiters]) w();
        return;
      }
      rec.received.push({ ...base, status: a });
      res.writeHead(a).end();
      for (const w of [...waiters]) w();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  rec.port = (server.address() as { port: number }).port;
  rec.url = `http://127.0.0.1:${rec.port}`;
  t.teardown(() => rec.close());
  return rec;
}

/** Polls until fn() holds, or fails at the deadline (no fixed sleeps). */
export async function eventually(fn: () => Promise<boolean> | boolean, ms = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`${what}: not met in ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
