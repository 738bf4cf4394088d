/**
 * One signed POST, bounded by a timeout that covers connecting, the answer and its body.
 * Redirects are not followed: a receiver that answers 3xx has not taken the event.
 *
 * undici's Agent (a keep-alive Pool per origin, `maxSockets` connections each) rather than
 * node:http's: it builds no ClientRequest/IncomingMessage pair per POST, which is most of
 * what a delivery costs this process (issue 19). No pipelining: a POST queued behind
 * another on one socket would wait for a slow receiver's answer to the first, and the
 * connections already match the deliveries in flight. Loaded with the first POST: a gateway
 * with no endpoint does not carry it (~6 MB).
 */
import type { Agent } from 'undici';
import type { WebhookHeaders } from './sign.js';

export type PostOutcome =
  | { result: 'delivered'; status: number }
  | { result: 'failed'; status: number | null; error: string }
  | { result: 'timeout'; error: string };

export interface Poster {
  post(url: URL, headers: WebhookHeaders, body: string, timeoutMs: number): Promise<PostOutcome>;
  close(): void;
}

/** Keep-alive connections shared by all deliveries of one worker (or one benchmark loop). */
export function createPoster(maxSockets: number): Poster {
  let agent: Promise<Agent> | null = null;
  const agentOf = () => (agent ??= import('undici').then((u) => new u.Agent({ connections: maxSockets, pipelining: 1 })));
  return {
    async post(url, headers, body, timeoutMs) {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await (await agentOf()).request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'abusegate-webhooks/1' },
          body,
          signal,
        });
        // Drain the body so the connection goes back to the pool.
        await res.body.dump();
        const status = res.statusCode;
        return status >= 200 && status < 300 ? { result: 'delivered', status } : { result: 'failed', status, error: `HTTP ${status}` };
      } catch (err) {
        if (signal.aborted) return { result: 'timeout', error: `no answer within ${timeoutMs} ms` };
        const e = err as NodeJS.ErrnoException;
        return { result: 'failed', status: null, error: e.code && !e.code.startsWith('UND_ERR') ? e.code : e.message };
      }
    },
    close() {
      void agent?.then((a) => a.destroy());
    },
  };
}
