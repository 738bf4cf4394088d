/**
 * PROXY protocol behind a load balancer, so that limits and records see the real client.
 * smtp-server reads version 1 (the text line) itself when `useProxy` is set; version 2
 * (binary, HAProxy's PROXY protocol spec §2.2) is read here, in front of it.
 */
import { randomBytes } from 'node:crypto';
import { isIP, type Socket } from 'node:net';

/** The 12-byte signature that starts every v2 header. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

export type ProxyV2 = { length: number; remoteAddress: string | null; remotePort: number | null };

/**
 * Parses a v2 header at the start of `buf`: `'incomplete'` when more bytes are needed, an
 * Error when it is malformed, else its length and the source address (null for LOCAL,
 * health-check connections of the balancer itself, and for non-IP families).
 */
export function parseProxyV2(buf: Buffer): ProxyV2 | 'incomplete' | Error {
  if (buf.length < 16) return buf.subarray(0, Math.min(buf.length, 12)).equals(V2_SIGNATURE.subarray(0, Math.min(buf.length, 12))) ? 'incomplete' : new Error('not a PROXY v2 header');
  if (!buf.subarray(0, 12).equals(V2_SIGNATURE)) return new Error('not a PROXY v2 header');
  const verCmd = buf[12];
  if (verCmd >> 4 !== 2) return new Error('PROXY v2: unsupported version');
  const command = verCmd & 0x0f; // 0 LOCAL, 1 PROXY
  if (command > 1) return new Error('PROXY v2: unknown command');
  const famProto = buf[13];
  const len = buf.readUInt16BE(14);
  if (len > 1024) return new Error('PROXY v2: header too long');
  if (buf.length < 16 + len) return 'incomplete';
  const body = buf.subarray(16, 16 + len);
  const total = 16 + len;
  if (command === 0) return { length: total, remoteAddress: null, remotePort: null };
  const family = famProto >> 4; // 1 INET, 2 INET6, 3 UNIX
  if (family === 1) {
    if (body.length < 12) return new Error('PROXY v2: short IPv4 address block');
    return { length: total, remoteAddress: [...body.subarray(0, 4)].join('.'), remotePort: body.readUInt16BE(8) };
  }
  if (family === 2) {
    if (body.length < 36) return new Error('PROXY v2: short IPv6 address block');
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16));
    const addr = groups.join(':');
    return { length: total, remoteAddress: isIP(addr) ? compressV6(addr) : null, remotePort: body.readUInt16BE(32) };
  }
  return { length: total, remoteAddress: null, remotePort: null };
}

/** The canonical (compressed) text form of an IPv6 address. */
function compressV6(addr: string): string {
  return new URL(`http://[${addr}]`).hostname.slice(1, -1);
}

type HandleProxy = (socket: Socket, cb: (err: Error | null, opts?: Record<string, unknown>) => void) => void;

/**
 * Wraps smtp-server's PROXY step: a v2 header is read here; anything else (v1) goes to
 * smtp-server's own reader. Only sockets from the configured balancers get here at all.
 */
export function installProxyV2(server: { _handleProxy: HandleProxy; _expectsProxyHeader(socket: Socket): boolean }): void {
  const original = server._handleProxy.bind(server);
  server._handleProxy = (socket, cb) => {
    if (!server._expectsProxyHeader(socket)) return original(socket, cb);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(new Error('PROXY header timeout')), 10_000);
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        buf = Buffer.concat([buf, chunk]);
        const r = parseProxyV2(buf);
        if (r === 'incomplete') continue;
        if (r instanceof Error) {
          // Not v2: hand the bytes back and let smtp-server read its v1 line.
          socket.unshift(buf);
          return finish(null, () => original(socket, cb));
        }
        socket.unshift(buf.subarray(r.length));
        const id = BigInt('0x' + randomBytes(10).toString('hex')).toString(32).padStart(16, '0');
        return finish(null, () => cb(null, { id, ...(r.remoteAddress ? { remoteAddress: r.remoteAddress, remotePort: r.remotePort } : {}) }));
      }
    };
    const onClose = () => finish(new Error('closed before the PROXY header'));
    const finish = (err: Error | null, next?: () => void) => {
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('close', onClose);
      if (err) {
        socket.destroy();
        return cb(err);
      }
      next!();
    };
    socket.on('readable', onReadable);
    socket.on('close', onClose);
  };
}
