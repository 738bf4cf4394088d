/** A policy-protocol client for tests: writes raw bytes, reads `…\n\n`-terminated replies. */
import { connect, type Socket } from 'node:net';

export class PolicyClient {
  private buf = '';
  private replies: string[] = [];
  private waiters: Array<(r: string | null) => void> = [];
  closed = false;
  readonly closedAt: Promise<void>;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      this.buf += d;
      for (let i = this.buf.indexOf('\n\n'); i >= 0; i = this.buf.indexOf('\n\n')) {
        const r = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        const w = this.waiters.shift();
        if (w) w(r);
        else this.replies.push(r);
      }
    });
    sock.on('error', () => {});
    this.closedAt = new Promise((res) =>
      sock.on('close', () => {
        this.closed = true;
        for (const w of this.waiters.splice(0)) w(null);
        res();
      }),
    );
  }

  static async connect(port: number): Promise<PolicyClient> {
    const sock = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', rej);
    });
    return new PolicyClient(sock);
  }

  write(raw: string | Buffer): void {
    this.sock.write(raw);
  }

  /** The next reply without its blank line, or null once the server closed. */
  read(): Promise<string | null> {
    const r = this.replies.shift();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closed) return Promise.resolve(null);
    return new Promise((res) => this.waiters.push(res));
  }

  async ask(attrs: Record<string, string>): Promise<string | null> {
    this.write(encodeRequest(attrs));
    return this.read();
  }

  close(): void {
    this.sock.destroy();
  }
}

export function encodeRequest(attrs: Record<string, string>): string {
  return Object.entries(attrs).map(([k, v]) => `${k}=${v}\n`).join('') + '\n';
}

/** What Postfix 3.7 sends at RCPT TO (SMTPD_POLICY_README), with the given overrides. */
export function rcptRequest(over: Record<string, string> = {}): Record<string, string> {
  return {
    request: 'smtpd_access_policy',
    protocol_state: 'RCPT',
    protocol_name: 'ESMTP',
    helo_name: 'client.example',
    queue_id: '',
    sender: '',
    recipient: 'someone@example.com',
    recipient_count: '0',
    client_address: '127.0.0.1',
    client_name: 'localhost',
    reverse_client_name: 'localhost',
    instance: '1a2b.5f3c1d2e.1',
    sasl_method: '',
    sasl_username: '',
    sasl_sender: '',
    size: '0',
    ccert_subject: '',
    ccert_issuer: '',
    ccert_fingerprint: '',
    encryption_protocol: '',
    encryption_cipher: '',
    encryption_keysize: '0',
    etrn_domain: '',
    stress: '',
    ccert_pubkey_fingerprint: '',
    client_port: '40000',
    policy_context: '',
    server_address: '127.0.0.1',
    server_port: '25',
    compatibility_level: '3.6',
    mail_version: '3.7.11',
    ...over,
  };
}
