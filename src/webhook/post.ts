/**
 * One signed POST over node's http/https with keep-alive, bounded by a timeout that
 * covers connecting, the answer and its body. Redirects are not followed: a receiver that
 * answers 3xx has not taken the event.
 */
import http from 'node:http';
import https from 'node:https';

export type PostOutcome =
  | { result: 'delivered'; status: number }
  | { result: 'failed'; status: number | null; error: string }
  | { result: 'timeout'; error: string };

export interface Poster {
  post(url: URL, headers: Record<string, string>, body: string, timeoutMs: number): Promise<PostOutcome>;
  close(): void;
}

/** Keep-alive agents shared by all deliveries of one worker (or one benchmark loop). */
export function createPoster(maxSockets: number): Poster {
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets }),
    'https:': new https.Agent({ keepAlive: true, maxSockets }),
  };
  return {
    post(url, headers, body, timeoutMs) {
      return new Promise<PostOutcome>((resolve) => {
        const payload = Buffer.from(body);
        const mod = url.protocol === 'https:' ? https : http;
        let settled = false;
        const done = (o: PostOutcome) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(o);
        };
        const req = mod.request(url, {
          method: 'POST',
          agent: agents[url.protocol as 'http:' | 'https:'],
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(payload.length),
            'user-agent': 'abusegate-webhooks/1',
          },
        });
        const timer = setTimeout(() => {
          done({ result: 'timeout', error: `no answer within ${timeoutMs} ms` });
          req.destroy();
        }, timeoutMs);
        req.on('response', (res) => {
          const status = res.statusCode ?? 0;
          // Drain the body so the connection goes back to the pool.
          res.resume();
          res.on('end', () =>
            done(status >= 200 && status < 300 ? { result: 'delivered', status } : { result: 'failed', status, error: `HTTP ${status}` }),
          );
          res.on('error', (err) => done({ result: 'failed', status, error: err.message }));
        });
        req.on('error', (err) => done({ result: 'failed', status: null, error: (err as NodeJS.ErrnoException).code ?? err.message }));
        req.end(payload);
      });
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
