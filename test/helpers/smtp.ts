/** A small SMTP client that shows every reply exactly as the server sent it. */
import { connect, type Socket } from 'node:net';

export interface Reply {
  code: number;
  text: string;
}

export class SmtpClient {
  private buf = '';
  private waiters: Array<(r: Reply) => void> = [];
  private replies: Reply[] = [];
  private closed = false;

  private constructor(private readonly sock: Socket) {
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      this.buf += d;
      // A reply ends with a line "NNN text" (no dash after the code).
      for (;;) {
        const m = /^((?:\d{3}-[^\n]*\n)*)(\d{3})(?: ([^\n]*))?\r?\n/.exec(this.buf);
        if (!m) break;
        this.buf = this.buf.slice(m[0].length);
        const reply = { code: Number(m[2]), text: (m[1].replace(/\d{3}-/g, '') + (m[3] ?? '')).replace(/\r/g, '') };
        const w = this.waiters.shift();
        if (w) w(reply);
        else this.replies.push(reply);
      }
    });
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w({ code: 0, text: 'connection closed' });
    });
    sock.on('error', () => {});
  }

  /** Connects; `preamble` (a PROXY header) is written before the greeting is read. */
  static async connect(port: number, preamble?: Buffer): Promise<SmtpClient> {
    const sock = connect({ port, host: '127.0.0.1' });
    await new Promise<void>((res, rej) => {
      sock.once('connect', () => res());
      sock.once('error', rej);
    });
    if (preamble) sock.write(preamble);
    const c = new SmtpClient(sock);
    const greeting = await c.read();
    if (greeting.code !== 220) throw new Error(`greeting ${greeting.code} ${greeting.text}`);
    return c;
  }

  read(): Promise<Reply> {
    const r = this.replies.shift();
    if (r) return Promise.resolve(r);
    if (this.closed) return Promise.resolve({ code: 0, text: 'connection closed' });
    return new Promise((res) => this.waiters.push(res));
  }

  async cmd(line: string): Promise<Reply> {
    this.sock.write(line + '\r\n');
    return this.read();
  }

  /** Sends DATA and the message (dot-stuffed); returns the reply to the final dot. */
  async data(message: string | Buffer): Promise<Reply> {
    const r = await this.cmd('DATA');
    if (r.code !== 354) return r;
    this.writeBody(message);
    return this.read();
  }

  writeBody(message: string | Buffer): void {
    const text = (Buffer.isBuffer(message) ? message.toString('latin1') : message).replace(/\r?\n/g, '\r\n');
    const stuffed = text.replace(/^\./gm, '..');
    this.sock.write(Buffer.from(stuffed + (stuffed.endsWith('\r\n') ? '' : '\r\n') + '.\r\n', 'latin1'));
  }

  /** Writes raw bytes (for tests that stop mid-DATA). */
  write(raw: string): void {
    this.sock.write(raw);
  }

  async send(from: string, to: string[], message: string | Buffer, helo = 'client.test'): Promise<Reply> {
    if (!this.greeted) {
      const h = await this.cmd(`EHLO ${helo}`);
      if (h.code !== 250) return h;
      this.greeted = true;
    }
    const m = await this.cmd(`MAIL FROM:<${from}>`);
    if (m.code !== 250) return m;
    for (const r of to) {
      const rr = await this.cmd(`RCPT TO:<${r}>`);
      if (rr.code !== 250) {
        await this.cmd('RSET');
        return rr;
      }
    }
    return this.data(message);
  }

  private greeted = false;

  async quit(): Promise<void> {
    if (!this.closed) await this.cmd('QUIT');
    this.sock.destroy();
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** One message over a fresh connection. */
export async function sendMail(port: number, from: string, to: string[], message: string | Buffer): Promise<Reply> {
  const c = await SmtpClient.connect(port);
  try {
    return await c.send(from, to, message);
  } finally {
    await c.quit();
  }
}
