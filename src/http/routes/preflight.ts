/**
 * POST /v1/campaigns/preflight: the platform checks a list before it sends a campaign.
 * Small lists come as JSON (`{account, campaign, recipients: [...]}`, within http.bodyLimit);
 * large ones as NDJSON (`application/x-ndjson`): a first line `{"account":…,"campaign":…}`,
 * then one recipient per line, read as a stream with a byte limit per line — never buffered.
 * GET /v1/campaigns/preflight/:id/suppressed pages through a large suppressed list.
 * Who calls: the platform, like POST /v1/events (no admin token).
 */
import type { Readable } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../errors.js';
import type { PreflightHead, Preflight } from '../../preflight.js';
import type { Store } from '../../store/store.js';
import { ACCOUNT_ID, CAMPAIGN_ID } from '../schemas.js';

/** Longest NDJSON line: an address is at most 320 octets (RFC 5321 §4.5.3.1), JSON adds a little. */
export const MAX_LINE_BYTES = 1024;
/** Longest first (header) line. */
const MAX_HEAD_BYTES = 4096;

const NDJSON = 'application/x-ndjson';
const ID_RE = new RegExp(ACCOUNT_ID.pattern);

const jsonBody = {
  type: 'object',
  required: ['account', 'campaign', 'recipients'],
  additionalProperties: false,
  properties: {
    account: ACCOUNT_ID,
    campaign: CAMPAIGN_ID,
    // Entries that are not strings are counted as invalid, not refused: the stats say so.
    recipients: { type: 'array' },
  },
} as const;

export interface PreflightRouteDeps {
  preflight: Preflight;
  /** The decision is answered once what it wrote (kept decision, its event) is on the replicas. */
  store: Pick<Store, 'durably'>;
  /** http.bodyLimit, quoted in the error that sends big JSON lists to NDJSON. */
  bodyLimit: number;
  /** The platform's bearer token, checked before the body is read. */
  platform: (req: FastifyRequest) => Promise<void>;
}

export function preflightRoutes(app: FastifyInstance, deps: PreflightRouteDeps): void {
  // Encapsulated: the NDJSON stream parser applies to these routes only.
  app.register(async (scope) => {
    scope.addContentTypeParser(NDJSON, (_req, payload, done) => done(null, payload));
    // Preflight reveals an account's standing and writes events: the platform's only.
    scope.addHook('onRequest', deps.platform);

    scope.post<{ Body: { account: string; campaign: string; recipients: unknown[] } | Readable }>(
      '/v1/campaigns/preflight',
      {
        schema: { body: { content: { 'application/json': { schema: jsonBody } } } },
        errorHandler: (err: FastifyError) => {
          if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
            err = new GatewayError(
              'BODY_TOO_LARGE',
              `A JSON list may be at most ${deps.bodyLimit} bytes: send large lists as NDJSON (content-type ${NDJSON}; first line {"account":…,"campaign":…}, then one address per line)`,
            ) as unknown as FastifyError;
          }
          // The app's handler turns it into {error: {code, message}}.
          throw err;
        },
      },
      async (req) => {
        const body = req.body;
        if (isStream(body)) {
          const lines = ndjsonLines(body, deps.preflight.maxRecipients);
          const { head, pending } = await readHead(lines);
          return deps.store.durably(() => deps.preflight.check(head, addresses(pending, lines)));
        }
        // Other types fastify parses (text/plain) arrive without the JSON schema's check.
        if (!body || typeof body !== 'object' || !Array.isArray(body.recipients)) {
          throw new GatewayError('UNSUPPORTED_MEDIA_TYPE', `Send the list as application/json or as ${NDJSON}`);
        }
        return deps.store.durably(() => deps.preflight.check({ account: body.account, campaign: body.campaign }, [body.recipients as string[]]));
      },
    );

    scope.get<{ Params: { id: string }; Querystring: { cursor?: number; limit?: number } }>(
      '/v1/campaigns/preflight/:id/suppressed',
      {
        schema: {
          params: { type: 'object', properties: { id: { type: 'string', pattern: '^pf_[0-9a-hjkmnp-tv-z]{26}$' } } },
          querystring: { type: 'object', additionalProperties: false, properties: { cursor: { type: 'integer', minimum: 0 }, limit: { type: 'integer', minimum: 1, maximum: 10000 } } },
        },
      },
      async (req) => deps.preflight.suppressedPage(req.params.id, req.query.cursor ?? 0, req.query.limit ?? 1000),
    );
  });
}

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable | null)?.pipe === 'function';
}

interface Line {
  n: number;
  text: string;
  /** A JSON string with no escapes, already unquoted: `text` is the address. */
  plain: boolean;
}

/** Space, tab, CR: trimmed off each line's ends. */
const blankByte = (b: number) => b === 0x20 || b === 0x09 || b === 0x0d;

/**
 * The request body as lines, in batches (one per network chunk), each at most
 * MAX_LINE_BYTES (the first MAX_HEAD_BYTES). Blank lines are skipped but counted: a
 * stream of blank lines is bounded too.
 */
async function* ndjsonLines(stream: Readable, maxRecipients: number): AsyncGenerator<Line[]> {
  let rest: Buffer | null = null;
  let n = 0;
  let blank = 0;
  const limit = () => (n === 0 ? MAX_HEAD_BYTES : MAX_LINE_BYTES);
  const tooLong = () => new GatewayError('BODY_TOO_LARGE', `NDJSON line ${n + 1} is longer than ${limit()} bytes: one address per line`);
  // Lines are trimmed and unquoted at the byte level, so each address is decoded once into
  // a string of its own (not a slice that keeps its whole line alive in the Set).
  const take = (buf: Buffer, start: number, end: number, out: Line[]) => {
    n++;
    while (start < end && blankByte(buf[start])) start++;
    while (end > start && blankByte(buf[end - 1])) end--;
    if (start === end) {
      if (++blank > maxRecipients) throw new GatewayError('BODY_TOO_LARGE', 'Too many blank lines');
      return;
    }
    if (end - start >= 2 && buf[start] === 0x22 && buf[end - 1] === 0x22) {
      let plain = true;
      for (let i = start + 1; i < end - 1 && plain; i++) plain = buf[i] !== 0x22 && buf[i] !== 0x5c;
      if (plain) return void out.push({ n, text: buf.toString('utf8', start + 1, end - 1), plain: true });
    }
    out.push({ n, text: buf.toString('utf8', start, end), plain: false });
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
    const out: Line[] = [];
    let start = 0;
    for (let nl = buf.indexOf(10, start); nl !== -1; nl = buf.indexOf(10, start)) {
      if (nl - start > limit()) throw tooLong();
      take(buf, start, nl, out);
      start = nl + 1;
    }
    rest = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    if (rest && rest.length > limit()) throw tooLong();
    if (out.length) yield out;
  }
  if (rest) {
    const out: Line[] = [];
    take(rest, 0, rest.length, out);
    if (out.length) yield out;
  }
}

/** The first line: `{"account": …, "campaign": …}`; `pending`: the lines that came with it. */
async function readHead(lines: AsyncGenerator<Line[]>): Promise<{ head: PreflightHead; pending: Line[] }> {
  const first = await lines.next();
  if (first.done || first.value.length === 0) throw new GatewayError('BAD_REQUEST', 'The NDJSON body is empty: its first line must be {"account":…,"campaign":…}');
  const [head, ...pending] = first.value;
  let h: unknown;
  try {
    h = JSON.parse(head.text);
  } catch {
    throw new GatewayError('BAD_JSON', 'NDJSON line 1 must be a JSON object {"account":…,"campaign":…}');
  }
  const o = h as Record<string, unknown>;
  if (!o || typeof o !== 'object' || Array.isArray(o)) throw new GatewayError('VALIDATION', 'NDJSON line 1 must be a JSON object {"account":…,"campaign":…}');
  const extra = Object.keys(o).filter((k) => k !== 'account' && k !== 'campaign');
  if (extra.length) throw new GatewayError('VALIDATION', `NDJSON line 1 has unknown field ${extra[0]}`);
  for (const k of ['account', 'campaign'] as const) {
    if (typeof o[k] !== 'string' || !ID_RE.test(o[k])) throw new GatewayError('VALIDATION', `NDJSON line 1: ${k} must be 1-64 characters of [A-Za-z0-9._-]`);
  }
  return { head: { account: o.account as string, campaign: o.campaign as string }, pending };
}

/** Each following line: a JSON string, `{"address": …}`, or a bare address. */
async function* addresses(pending: Line[], lines: AsyncGenerator<Line[]>): AsyncGenerator<string[]> {
  if (pending.length) yield pending.map(lineAddress);
  for await (const batch of lines) yield batch.map(lineAddress);
}

function lineAddress(line: Line): string {
  if (line.plain) return line.text;
  const s = line.text.trim();
  if (s[0] === '"') {
    const v = parseLine(s, line.n);
    if (typeof v === 'string') return v;
  } else if (s[0] === '{') {
    const v = parseLine(s, line.n) as { address?: unknown } | null;
    if (v && typeof v.address === 'string') return v.address;
  } else {
    return s;
  }
  throw new GatewayError('VALIDATION', `NDJSON line ${line.n} must be an address, a JSON string or {"address": …}`);
}

function parseLine(s: string, n: number): unknown {
  try {
    return JSON.parse(s);
  } catch {
    throw new GatewayError('BAD_JSON', `NDJSON line ${n} is not valid JSON`);
  }
}
