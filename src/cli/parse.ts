/**
 * `abusegate parse PATH...`: one JSON object per message, one per line, made by the same
 * parseMessage the SMTP path runs (contracts.md). Folders are searched recursively for
 * *.eml, in sorted order. stdout carries only JSON lines; the progress counter goes to
 * stderr, and only when the caller says it is a terminal.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BounceRules } from '../parse/bounce/index.js';
import { type ParseOptions, parseMessage } from '../parse/index.js';
import { headerBytes } from '../parse/mime.js';
import { unreadableReport } from '../parse/report.js';
import type { TokenCodec } from '../token/token.js';

export interface RunParseOptions {
  codec?: TokenCodec;
  tokenHeader?: string;
  bounceRules?: BounceRules;
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  progress: boolean;
  /**
   * `--mailbox`: parse as the SMTP path does for mail delivered to that mailbox (its
   * options, MIME limits, deadline and header-size check); without it, no mailbox is assumed.
   */
  delivered?: Pick<ParseOptions, 'mailbox' | 'envelopeToken' | 'limits' | 'phoneRegions' | 'deadlineMs'> & { maxHeaderBytes: number };
}

interface Item {
  file: string;
  /** Set when the path could not be listed; the item is reported as an error line. */
  error?: string;
}

const EML = /\.eml$/i;

/** Returns the exit code: 0, or 1 when any path could not be read. */
export async function runParse(paths: string[], opts: RunParseOptions): Promise<number> {
  const items: Item[] = [];
  for (const p of paths) await collect(p, items, true);

  let failed = false;
  const total = items.length;
  let done = 0;
  for (const item of items) {
    let line: Record<string, unknown>;
    if (item.error !== undefined) {
      failed = true;
      line = { file: item.file, ...unreadableReport(item.error) };
    } else {
      try {
        const raw = await readFile(item.file);
        const base = { codec: opts.codec, tokenHeader: opts.tokenHeader, bounceRules: opts.bounceRules };
        const d = opts.delivered;
        const report = !d
          ? parseMessage(raw, base)
          : headerBytes(raw) > d.maxHeaderBytes
            ? unreadableReport(`header block larger than ${d.maxHeaderBytes} bytes`)
            : parseMessage(raw, { ...base, mailbox: d.mailbox, envelopeToken: d.envelopeToken, limits: d.limits, phoneRegions: d.phoneRegions, deadlineMs: d.deadlineMs });
        line = { file: item.file, ...report };
      } catch (e) {
        failed = true;
        line = { file: item.file, ...unreadableReport(reason(e)) };
      }
    }
    await write(opts.out, JSON.stringify(line) + '\n');
    done++;
    if (opts.progress) opts.err.write(`\r${done}/${total} ${shorten(item.file)}\x1b[K`);
  }
  if (opts.progress && total > 0) opts.err.write('\n');
  return failed ? 1 : 0;
}

async function collect(path: string, items: Item[], given: boolean): Promise<void> {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    items.push({ file: path, error: reason(e) });
    return;
  }
  if (st.isDirectory()) {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (e) {
      items.push({ file: path, error: reason(e) });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const child = join(path, e.name);
      if (e.isDirectory()) await collect(child, items, false);
      else if ((e.isFile() || e.isSymbolicLink()) && EML.test(e.name)) items.push({ file: child });
    }
  } else if (given || EML.test(path)) {
    items.push({ file: path });
  }
}

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && err.code === 'ENOENT') return 'no such file or directory';
  if (err && err.code === 'EACCES') return 'permission denied';
  if (err && err.code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(e);
}

function write(out: NodeJS.WritableStream, s: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = out.write(s, (e) => (e ? reject(e) : undefined));
    if (ok) resolve();
    else out.once('drain', () => resolve());
  });
}

function shorten(p: string): string {
  return p.length > 60 ? '…' + p.slice(-59) : p;
}
