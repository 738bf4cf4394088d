/**
 * Page strings, one JSON file per language and area: src/web/i18n/<area>/<lang>.json.
 * Adding a language is adding a file. English is complete for every area and is the
 * fallback for any key another language lacks.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const I18N_DIR = new URL('../../src/web/i18n/', import.meta.url);
export const FALLBACK = 'en';

export type Strings = Readonly<Record<string, string>>;

export interface Catalogue {
  /** Languages with a file, English first. */
  readonly languages: readonly string[];
  /** The string for key in lang, `{name}` placeholders filled (values are plain text: escape when printing). */
  t(lang: string, key: string, vars?: Record<string, string | number>): string;
  /** The best language for a request: `?lang=` when we have it, else Accept-Language (RFC 9110 §12.5.4), else English. */
  pick(query: string | undefined, acceptLanguage: string | undefined): string;
}

export function loadCatalogue(area: string): Catalogue {
  const dir = new URL(`${area}/`, I18N_DIR);
  const table = new Map<string, Strings>();
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)) {
      const m = /^([a-z]{2,3})\.json$/.exec(f);
      if (m) table.set(m[1], JSON.parse(readFileSync(new URL(f, dir), 'utf8')) as Strings);
    }
  }
  const en = table.get(FALLBACK);
  if (!en) throw new Error(`src/web/i18n/${area}/en.json is missing`);
  const languages = [FALLBACK, ...[...table.keys()].filter((l) => l !== FALLBACK).sort()];

  return {
    languages,
    t(lang, key, vars) {
      const s = table.get(lang)?.[key] ?? en[key];
      if (s === undefined) throw new Error(`no string ${area}.${key}`);
      return vars ? s.replace(/\{(\w{1,32})\}/g, (all, name: string) => (name in vars ? String(vars[name]) : all)) : s;
    },
    pick(query, acceptLanguage) {
      if (query && table.has(query)) return query;
      // "de-CH;q=0.9, en;q=0.8": the highest q whose primary subtag we have.
      let best = FALLBACK;
      let bestQ = -1;
      for (const part of (acceptLanguage ?? '').slice(0, 512).split(',')) {
        const [tag, ...params] = part.trim().split(';');
        const primary = tag.split('-')[0].toLowerCase();
        const qp = params.find((p) => p.trim().startsWith('q='));
        const q = qp ? Number(qp.trim().slice(2)) : 1;
        if (table.has(primary) && Number.isFinite(q) && q > bestQ) {
          best = primary;
          bestQ = q;
        }
      }
      return best;
    },
  };
}
