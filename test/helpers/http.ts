/** A JSON client for the HTTP API in tests: one copy instead of one per test file. */

export interface ApiReply {
  status: number;
  /** The body parsed as JSON, else its text ('' for none). */
  body: any;
  headers: Headers;
}

export interface CallOptions {
  /** Bearer token sent with the request; null or absent: none. */
  token?: string | null;
  headers?: Record<string, string>;
}

/**
 * `call(method, path, body?, options?)` against `base` (http://127.0.0.1:<port>). An object
 * body is sent as JSON; a string body as it is (with the JSON content type), so a test can
 * send malformed JSON. `token` is the default bearer token, overridden per call.
 */
export function apiClient(base: string, token: string | null = null) {
  return async (method: string, path: string, body?: unknown, opts: CallOptions = {}): Promise<ApiReply> => {
    const bearer = opts.token === undefined ? token : opts.token;
    const res = await fetch(base + path, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
        ...opts.headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: the text
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}
