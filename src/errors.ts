/**
 * The error catalogue: every error a peer can see, with a stable code, its SMTP reply and
 * its HTTP status. docs/operations.md lists them all (generated; a test checks that it does).
 */

export interface ErrorSpec {
  message: string;
  /** SMTP reply code and enhanced status, when the error can reach an SMTP client. */
  smtp?: { code: number; status: string };
  http?: number;
}

export const ERRORS = {
  MAILBOX_UNKNOWN: { message: 'No such mailbox here', smtp: { code: 550, status: '5.1.1' } },
  MESSAGE_TOO_BIG: { message: 'Message exceeds the size limit', smtp: { code: 552, status: '5.3.4' }, http: 413 },
  TOO_MANY_RECIPIENTS: { message: 'Too many recipients', smtp: { code: 452, status: '4.5.3' } },
  STORE_UNAVAILABLE: {
    message: 'Report could not be recorded, try again later',
    smtp: { code: 451, status: '4.3.0' },
    http: 503,
  },
  /**
   * Not Redis being away but a bug (a TypeError, a script error): logged with its stack and
   * counted (abusegate_internal_faults_total). SMTP answers 451 once; the same message
   * delivered again is quarantined (250) rather than refused forever.
   */
  INTERNAL_FAULT: {
    message: 'An internal error stopped this from being recorded; it is logged, try again later',
    smtp: { code: 451, status: '4.3.0' },
    http: 500,
  },

  // RFC 3463 X.3.1 "mail system full": temporary, the sender retries.
  STORE_NOT_PERSISTING: {
    message: 'Report could not be recorded: the store cannot write to disk, try again later',
    smtp: { code: 452, status: '4.3.1' },
    http: 503,
  },
  STORE_OUT_OF_MEMORY: {
    message: 'Report could not be recorded: the store is out of memory, try again later',
    smtp: { code: 452, status: '4.3.1' },
    http: 503,
  },
  /**
   * Written, but fewer replicas than redis.waitReplicas confirmed it within
   * redis.waitTimeoutMs: a failover now could lose it, so it is not acknowledged; the
   * sender retries and the retry counts nothing twice (store/replication.ts).
   */
  STORE_NOT_REPLICATED: {
    message: 'Report could not be confirmed on a replica, try again later',
    smtp: { code: 451, status: '4.3.0' },
    http: 503,
  },
  BAD_REQUEST: { message: 'The request is malformed', http: 400 },
  BAD_JSON: { message: 'The body is not valid JSON', http: 400 },
  VALIDATION: { message: 'The request does not match the schema', http: 400 },
  NOT_FOUND: { message: 'Not found', http: 404 },
  BODY_TOO_LARGE: { message: 'The body exceeds the size limit', http: 413 },
  UNSUPPORTED_MEDIA_TYPE: { message: 'Unsupported content type', http: 415 },
  UNPROCESSABLE: { message: 'The report cannot be used as it is', http: 422 },
  UNAUTHORIZED: { message: 'Missing or wrong bearer token', http: 401 },
  RATE_LIMITED: { message: 'Too many requests, try again later', smtp: { code: 450, status: '4.7.1' }, http: 429 },
  CONNECTION_LIMITED: { message: 'Too many connections from your address, try again later', smtp: { code: 421, status: '4.7.0' } },
  NOT_SUPPRESSED: { message: 'The address is not suppressed for this account', http: 404 },
  NOT_SUSPENDED: { message: 'The account is not suspended', http: 409 },
  NOT_CONFIGURED: { message: 'This needs a setting the gateway does not have (tokens.secret)', http: 503 },
  INTERNAL: { message: 'Internal error', http: 500 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** An error that carries a catalogue code; smtp-server reads `responseCode`. */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly responseCode?: number;
  readonly statusCode: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    const spec: ErrorSpec = ERRORS[code];
    const text = message ?? spec.message;
    // smtp-server writes `${responseCode} ${message}`; the enhanced status leads the text.
    super(spec.smtp ? `${spec.smtp.status} ${text}` : text, options);
    this.code = code;
    this.responseCode = spec.smtp?.code;
    this.statusCode = spec.http ?? 500;
  }

  /** The body every HTTP error has: `{error: {code, message}}`. */
  toJSON(): { error: { code: string; message: string } } {
    const spec: ErrorSpec = ERRORS[this.code];
    return { error: { code: this.code, message: spec.smtp ? this.message.slice(spec.smtp.status.length + 1) : this.message } };
  }
}
