// tap reporter: passes the TAP stream through unchanged and closes with the one line CI
// reads, `tests: N passed, N failed` (N skipped), taken from tap's final counts comment
// (`# { total: 6, pass: 5, skip: 1 }`). tap keeps its own exit code.
import { Transform } from 'node:stream';

export default class CountingReporter extends Transform {
  constructor() {
    super();
    this.tail = '';
    this.counts = null;
  }

  _transform(chunk, _enc, cb) {
    const text = this.tail + chunk.toString();
    const lines = text.split('\n');
    this.tail = lines.pop();
    for (const line of lines) this.#look(line);
    cb(null, chunk);
  }

  _flush(cb) {
    if (this.tail) this.#look(this.tail);
    const c = this.counts;
    if (c) {
      const skipped = (c.skip ?? 0) + (c.todo ?? 0);
      const failed = c.fail ?? Math.max(0, c.total - (c.pass ?? 0) - skipped);
      cb(null, `\ntests: ${c.pass ?? 0} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
    } else {
      cb(null, '\ntests: 0 passed, 1 failed\n');
    }
  }

  #look(line) {
    const m = /^# (\{ total: .*\})\s*$/.exec(line);
    if (m) this.counts = Object.fromEntries([...m[1].matchAll(/(\w+): (\d+)/g)].map(([, k, v]) => [k, Number(v)]));
  }
}
