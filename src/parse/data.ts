/**
 * Where the parsers' data files are (config/bounce-rules.yaml, config/abuse-words.yaml): the
 * package's own config/ directory, found from this module whether it runs from src/ (tests)
 * or dist/ (the gateway, the CLI).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Walks up from this module to the directory that holds package.json. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return process.cwd();
}

/** The path of a data file in the package's config/ directory. */
export function dataFile(name: string): string {
  return join(packageRoot(), 'config', name);
}
