/**
 * Loads the configuration once: config/default.yaml, then the ABUSEGATE_CONFIG overlay,
 * then the environment; validates the result against the schema and freezes it.
 * Every problem becomes a ConfigError whose message names the key (one line, no stack).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { parseAdminTokens } from '../http/auth.js';
import { parseTokenSecrets } from '../token/token.js';
import { type Config, ENV_KEYS, type SchemaNode, WHSEC, isLeaf, schema } from './schema.js';

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
}

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));

type Plain = Record<string, unknown>;

function readYaml(path: string, what: string): Plain {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${what} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${what} ${path}: not valid YAML (${String((err as Error).message).split('\n')[0]})`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError(`${what} ${path}: must be a mapping of keys`);
  return doc as Plain;
}

function merge(base: Plain, over: Plain, node: SchemaNode, path: string[]): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const key = [...path, k].join('.');
    const child = (node as Record<string, SchemaNode>)[k];
    if (isLeaf(node) || child === undefined) throw new ConfigError(`config key ${key}: unknown key`);
    if (!isLeaf(child)) {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`config key ${key}: must be a mapping`);
      out[k] = merge((base[k] as Plain) ?? {}, v as Plain, child, [...path, k]);
    } else {
      out[k] = v;
    }
  }
  return out;
}

function setPath(obj: Plain, path: string[], value: unknown): void {
  let o = obj;
  for (const p of path.slice(0, -1)) o = (o[p] ??= {}) as Plain;
  o[path[path.length - 1]] = value;
}

function validate(value: unknown, node: SchemaNode, path: string[]): unknown {
  const key = path.join('.');
  if (!isLeaf(node)) {
    const obj = (value ?? {}) as Plain;
    const out: Plain = {};
    for (const k of Object.keys(node)) out[k] = validate(obj[k], (node as Record<string, SchemaNode>)[k], [...path, k]);
    return Object.freeze(out);
  }
  switch (node.kind) {
    case 'int': {
      if (node.nullable && (value === null || value === undefined || value === '')) return null;
      const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) throw new ConfigError(`config key ${key}: must be an integer, got ${show(value)}`);
      if (n < node.min || n > node.max) throw new ConfigError(`config key ${key}: must be between ${node.min} and ${node.max}, got ${n}`);
      return n;
    }
    case 'number': {
      const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isFinite(n)) throw new ConfigError(`config key ${key}: must be a number, got ${show(value)}`);
      if (n < node.min || n > node.max) throw new ConfigError(`config key ${key}: must be between ${node.min} and ${node.max}, got ${n}`);
      return n;
    }
    case 'ints': {
      if (!Array.isArray(value) || value.length === 0 || value.some((n) => !Number.isInteger(n) || n < node.min || n > node.max)) {
        throw new ConfigError(`config key ${key}: must be a non-empty list of integers between ${node.min} and ${node.max}`);
      }
      return Object.freeze([...value]);
    }
    case 'string': {
      if (value === null || value === undefined || value === '') {
        if (node.nullable) return null;
        throw new ConfigError(`config key ${key}: is required`);
      }
      if (typeof value !== 'string') throw new ConfigError(`config key ${key}: must be a string, got ${show(value)}`);
      if (node.pattern && !node.pattern.test(value)) throw new ConfigError(`config key ${key}: must be ${node.hint ?? `like ${node.pattern}`}`);
      return value;
    }
    case 'bool': {
      if (value === 'true' || value === 'false') return value === 'true';
      if (typeof value !== 'boolean') throw new ConfigError(`config key ${key}: must be true or false, got ${show(value)}`);
      return value;
    }
    case 'strings': {
      if (!Array.isArray(value) || value.some((s) => typeof s !== 'string' || s === '')) {
        throw new ConfigError(`config key ${key}: must be a list of non-empty strings`);
      }
      return Object.freeze([...value]);
    }
    case 'endpoints': {
      if (!Array.isArray(value)) throw new ConfigError(`config key ${key}: must be a list of endpoints`);
      return Object.freeze(
        value.map((e, i) => {
          const at = `config key ${key}[${i}]`;
          if (!e || typeof e !== 'object' || Array.isArray(e)) throw new ConfigError(`${at}: must be a mapping with url, secret and types`);
          for (const k of Object.keys(e)) if (!['url', 'secret', 'types'].includes(k)) throw new ConfigError(`${at}.${k}: unknown key`);
          if (typeof e.url !== 'string' || !/^https?:\/\//.test(e.url)) throw new ConfigError(`${at}.url: must be an http:// or https:// URL`);
          if (typeof e.secret !== 'string' || !WHSEC.test(e.secret)) throw new ConfigError(`${at}.secret: must be whsec_ followed by base64`);
          if (e.types !== undefined && (!Array.isArray(e.types) || e.types.some((t: unknown) => typeof t !== 'string' || !t))) {
            throw new ConfigError(`${at}.types: must be a list of event types`);
          }
          return Object.freeze({ url: e.url, secret: e.secret, types: e.types ? Object.freeze([...e.types]) : null });
        }),
      );
    }
    case 'enum': {
      if (typeof value !== 'string' || !node.values.includes(value)) {
        throw new ConfigError(`config key ${key}: must be one of ${node.values.join(', ')}, got ${show(value)}`);
      }
      return value;
    }
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? s.slice(0, 40) + '…' : s;
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  defaultsPath?: string;
  /** A programmatic overlay applied after the file and before the environment (tests). */
  overrides?: Plain;
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? {};
  let raw = readYaml(opts.defaultsPath ?? DEFAULT_CONFIG_PATH, 'default config');
  raw = merge({}, raw, schema, []);
  if (env.ABUSEGATE_CONFIG) raw = merge(raw, readYaml(env.ABUSEGATE_CONFIG, 'ABUSEGATE_CONFIG'), schema, []);
  if (opts.overrides) raw = merge(raw, opts.overrides, schema, []);
  for (const [name, { path, list }] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v === undefined) continue;
    const value = list ? v.split(',').map((s) => s.trim()).filter(Boolean) : v;
    try {
      setPath(raw, path, value);
      validate(value, path.reduce<SchemaNode>((n, p) => (n as Record<string, SchemaNode>)[p], schema), path);
    } catch (err) {
      if (err instanceof ConfigError) throw new ConfigError(`${name}: ${err.message.replace(/^config key [^:]+: /, '')}`);
      throw err;
    }
  }
  return crossCheck(validate(raw, schema, []) as Config);
}

/** Token secrets: 256 bits, the size of the AES-256 and HMAC-SHA256 keys derived from them. */
export const MIN_CONFIG_SECRET_OCTETS = 32;

/** At least this many characters in a bearer token (issue 14: guessing must be hopeless). */
export const MIN_BEARER_CHARS = 32;

/** Rules that span keys or need more than a pattern; one line each, naming the key. */
function crossCheck(c: Config): Config {
  // Anyone could then claim a trusted reporter's address through the PROXY header.
  if (c.smtp.proxyFrom.includes('*')) throw new ConfigError('config key smtp.proxyFrom: "*" would let any client claim any address; list the proxies\' addresses or CIDR ranges');
  if (c.desk.listener === 'internal' && c.http.internalPort === null) throw new ConfigError('config key desk.listener: internal needs http.internalPort (the internal listener to serve the console on)');
  if (c.tokens.secret) {
    let keys: Record<string, string>;
    try {
      keys = parseTokenSecrets(c.tokens.secret).keys;
    } catch (err) {
      throw new ConfigError(`config key tokens.secret: ${(err as Error).message.replace(/^ABUSEGATE_TOKEN_SECRET /, '')}`);
    }
    for (const [kid, secret] of Object.entries(keys)) {
      const octets = Buffer.byteLength(secret, 'utf8');
      if (octets < MIN_CONFIG_SECRET_OCTETS) throw new ConfigError(`config key tokens.secret: key '${kid}' is ${octets} bytes; a secret needs at least ${MIN_CONFIG_SECRET_OCTETS} (openssl rand -base64 32)`);
    }
  }
  for (const [key, spec] of [['admin.token', c.admin.token], ['platform.token', c.platform.token]] as const) {
    if (!spec) continue;
    for (const t of parseAdminTokens(spec)) {
      if (t.token.length < MIN_BEARER_CHARS) throw new ConfigError(`config key ${key}: a token must be at least ${MIN_BEARER_CHARS} characters (openssl rand -base64 32)`);
    }
  }
  return c;
}
