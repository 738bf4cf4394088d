/**
 * The one configuration schema. config/default.yaml holds every value; this says what each
 * may be. The Config type is derived from it, so the two cannot drift apart silently.
 */

type Leaf =
  | { kind: 'int'; min: number; max: number; nullable?: boolean }
  | { kind: 'number'; min: number; max: number }
  | { kind: 'ints'; min: number; max: number }
  | { kind: 'string'; nullable: boolean; pattern?: RegExp; hint?: string }
  | { kind: 'bool' }
  | { kind: 'strings' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'endpoints' };

/** A webhook endpoint: where to POST, how to sign, which event types it wants (all when absent). */
export interface WebhookEndpoint {
  readonly url: string;
  readonly secret: string;
  readonly types: readonly string[] | null;
}

export type SchemaNode = Leaf | { [key: string]: SchemaNode };

const int = (min: number, max: number) => ({ kind: 'int', min, max }) as const;
const num = (min: number, max: number) => ({ kind: 'number', min, max }) as const;
const ints = (min: number, max: number) => ({ kind: 'ints', min, max }) as const;
const port = () => int(0, 65535);
const optPort = () => ({ kind: 'int', min: 0, max: 65535, nullable: true }) as const;
/** An ISO 8601 date (or date-time). */
const ISO_DATE = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const rate = () => num(0, 1);
const str = () => ({ kind: 'string', nullable: false }) as const;
const optStr = (pattern?: RegExp, hint?: string) => ({ kind: 'string', nullable: true, pattern, hint }) as const;
const bool = () => ({ kind: 'bool' }) as const;
const strings = () => ({ kind: 'strings' }) as const;
const oneOf = <T extends string>(...values: T[]) => ({ kind: 'enum', values }) as const;

/** One or more Standard Webhooks secrets, space-separated (both sign during a rotation). */
export const WHSEC = /^whsec_[A-Za-z0-9+/=]+( whsec_[A-Za-z0-9+/=]+)*$/;

export const schema = {
  smtp: {
    port: port(),
    host: str(),
    hostname: str(),
    domains: strings(),
    maxSize: int(1024, 1024 ** 3),
    maxClients: int(1, 100000),
    maxRecipients: int(1, 1000),
    socketTimeout: int(1000, 3600000),
    reverseLookup: bool(),
    tlsKey: optStr(),
    tlsCert: optStr(),
    mailboxes: { fbl: str(), abuse: str(), bounces: str(), unsubscribe: str() },
    proxyFrom: strings(),
    connectionsPerMinute: int(0, 1e9),
    messagesPerMinute: int(0, 1e9),
    dataTimeout: int(1000, 3600000),
    maxHeaderBytes: int(1024, 1024 ** 3),
    keepBytes: int(4096, 1024 ** 3),
    dataConcurrency: int(1, 10000),
    maxMimeDepth: int(1, 1000),
    maxMimeParts: int(1, 1e6),
    blockedWarnMs: int(1, 600_000),
    connectionsPerIp: int(0, 100000),
    maxDkimSignatures: int(0, 100),
    parseDeadlineMs: int(0, 600000),
  },
  http: {
    port: port(),
    host: str(),
    bodyLimit: int(1024, 1024 ** 3),
    internalPort: optPort(),
    internalHost: str(),
    requestTimeoutMs: int(1000, 3600000),
    headersTimeoutMs: int(1000, 3600000),
    connectionTimeoutMs: int(1000, 3600000),
    trustedProxies: strings(),
  },
  policy: {
    port: port(),
    host: str(),
    accountFrom: oneOf('verp', 'sasl', 'verp-then-sasl'),
    idleTimeoutMs: int(1000, 3600000),
    maxRequestBytes: int(1024, 1048576),
  },
  redis: {
    url: optStr(/^(rediss?:\/\/|unix:\/\/|\/)/, 'a redis:// or rediss:// URL, or a unix socket path'),
    cluster: strings(),
    prefix: { kind: 'string', nullable: false, pattern: /^[A-Za-z0-9_.-]{1,32}$/, hint: '1-32 characters of [A-Za-z0-9_.-]' },
    commandTimeout: int(10, 600000),
    partitions: int(1, 16384),
    allowEviction: bool(),
    allowVolatile: bool(),
    checkEveryMs: int(10_000, 86_400_000),
    waitReplicas: { kind: 'int', min: 0, max: 16, nullable: true } as const,
    waitTimeoutMs: int(1, 60_000),
    stated: {
      maxmemoryPolicy: optStr(/^[a-z-]{1,32}$/, 'a maxmemory-policy such as noeviction'),
      persistence: optStr(/^(aof|rdb|aof\+rdb|none)$/, 'aof, rdb, aof+rdb or none'),
      appendfsync: optStr(/^(always|everysec|no)$/, 'always, everysec or no'),
    },
    local: {
      dir: str(),
      appendfsync: oneOf('always', 'everysec', 'no'),
      restartMinMs: int(10, 60_000),
      restartMaxMs: int(10, 3_600_000),
      minFreeBytes: int(0, 1e15),
    },
  },
  quarantine: { keep: int(1, 10000000), maxBytes: int(0, 1024 ** 3) },
  reports: { retentionDays: int(1, 3650) },
  tokens: { header: str(), secret: optStr(), legacyShortUntil: optStr(ISO_DATE, 'an ISO 8601 date such as 2027-01-31') },
  rates: {
    windowHours: ints(1, 24 * 90),
    minVolume: int(0, 1e12),
    complaint: { shared: { warn: rate(), suspend: rate() }, dedicated: { warn: rate(), suspend: rate() } },
    bounce: { warn: rate(), suspend: rate() },
    warnCooldownHours: int(0, 24 * 365),
    warningsToSuspend: int(1, 1000),
    warningWindowDays: int(1, 3650),
    dedupDays: int(1, 3650),
  },
  bounces: {
    softLimit: int(1, 1000),
    softLimitEngaged: int(1, 1000),
    softIdleDays: int(1, 3650),
    engagedDays: int(1, 3650),
    senderSideReasons: strings(),
  },
  investigation: {
    feedbackTypes: strings(),
    phishingLanguage: bool(),
    whenWarned: bool(),
    complaintRateShareOfWarn: num(0, 100),
    accountYoungerThanDays: int(0, 3650),
    confirmedCases: int(0, 1000),
    sendingDomains: strings(),
    independentReporters: int(0, 1000),
    reporterWindowHours: int(1, 24 * 30),
  },
  cases: { reportsKept: int(1, 10000), pageSize: int(1, 1000), archiveAfterDays: int(1, 3650) },
  consent: { publicUrl: { kind: 'string', nullable: false, pattern: /^https?:\/\/[^/?#]+\/?$/, hint: 'an origin such as https://abuse.example.com' }, confirmDays: int(1, 365), perMinute: int(0, 1e9) },
  vetting: {
    resolver: optStr(/^[0-9a-fA-F:.[\]]+$/, 'an IP address, optionally with :port ([::1]:53 for IPv6)'),
    timeoutMs: int(50, 60000),
    rdapBaseUrl: optStr(/^https?:\/\//, 'an http:// or https:// URL'),
    rdapBootstrap: str(),
    dnsblZones: strings(),
    youngDomainDays: int(0, 3650),
    historyKept: int(1, 1000),
    indexDays: int(1, 3650),
    approveAt: int(0, 100),
    rejectBelow: int(0, 100),
    weights: {
      disposable: int(0, 100),
      freeMailbox: int(0, 100),
      youngDomain: int(0, 100),
      noMx: int(0, 100),
      noSpf: int(0, 100),
      noDmarc: int(0, 100),
      listedIp: int(0, 100),
      policyListedIp: int(0, 100),
      noPtr: int(0, 100),
      reservedIp: int(0, 100),
      countryMismatch: int(0, 100),
      linkedSuspended: int(0, 100),
      complaintRate: int(0, 100),
      unavailable: int(0, 100),
    },
  },
  form: { ratePerMinute: int(0, 100000), unsubscribePerMinute: int(0, 1e9) },
  phone: { regions: strings() },
  sms: { traceDays: int(1, 365), perNumber: int(1, 1000) },
  report: {
    operatorName: str(),
    privacyUrl: optStr(/^https?:\/\//, 'an http:// or https:// URL'),
    minFillSeconds: int(0, 3600),
    maxFillHours: int(1, 720),
  },
  preflight: {
    maxRecipients: int(1, 10_000_000),
    inlineSuppressedLimit: int(0, 1_000_000),
    blockSuppressedShare: rate(),
    reviewRoleShare: rate(),
    reviewInvalidShare: rate(),
    reviewGlobalHits: int(0, 1_000_000),
    reviewComplaintRateShareOfWarn: num(0, 100),
    reviewUnvettedAccounts: bool(),
    reviewUnwitnessedShare: rate(),
    unwitnessedPools: strings(),
    roleLocalParts: strings(),
  },
  guidance: { listHygiene: str(), consent: str(), unsubscribe: str(), complaints: str(), bounces: str() },
  webhooks: {
    url: optStr(/^https?:\/\//, 'an http:// or https:// URL'),
    secret: optStr(WHSEC, 'whsec_ followed by base64 (several, space-separated, during a rotation)'),
    endpoints: { kind: 'endpoints' } as const,
    timeoutMs: int(100, 300000),
    retrySchedule: ints(1, 7 * 86400),
    claimIdleMs: int(1000, 86400000),
    concurrency: int(1, 1000),
  },
  admin: { token: optStr() },
  platform: { token: optStr() },
  desk: {
    sessionIdleMinutes: int(1, 24 * 60),
    signInPerMinute: int(0, 100000),
    signInPerNamePerMinute: int(0, 100000),
    pageSize: int(5, 500),
    queueScanLimit: int(100, 1_000_000),
    listener: oneOf('public', 'internal'),
  },
  trustedReporters: strings(),
  log: { level: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent') },
  shutdown: { graceMs: int(0, 3600000) },
} as const;

type Infer<S> = S extends { kind: 'int'; nullable: true }
  ? number | null
  : S extends { kind: 'int' | 'number' }
  ? number
  : S extends { kind: 'ints' }
    ? readonly number[]
  : S extends { kind: 'string'; nullable: true }
    ? string | null
    : S extends { kind: 'string' }
      ? string
      : S extends { kind: 'bool' }
        ? boolean
        : S extends { kind: 'strings' }
          ? readonly string[]
          : S extends { kind: 'enum'; values: readonly (infer V)[] }
            ? V
            : S extends { kind: 'endpoints' }
              ? readonly WebhookEndpoint[]
            : { readonly [K in keyof S]: Infer<S[K]> };

export type Config = Infer<typeof schema>;

/** Environment variables of contracts.md and the keys they set. */
export const ENV_KEYS: Record<string, { path: string[]; list?: boolean }> = {
  ABUSEGATE_SMTP_PORT: { path: ['smtp', 'port'] },
  ABUSEGATE_HTTP_PORT: { path: ['http', 'port'] },
  ABUSEGATE_POLICY_PORT: { path: ['policy', 'port'] },
  REDIS_URL: { path: ['redis', 'url'] },
  ABUSEGATE_REDIS_CLUSTER: { path: ['redis', 'cluster'], list: true },
  ABUSEGATE_WEBHOOK_URL: { path: ['webhooks', 'url'] },
  ABUSEGATE_WEBHOOK_SECRET: { path: ['webhooks', 'secret'] },
  ABUSEGATE_TOKEN_SECRET: { path: ['tokens', 'secret'] },
  ABUSEGATE_ADMIN_TOKEN: { path: ['admin', 'token'] },
  ABUSEGATE_PLATFORM_TOKEN: { path: ['platform', 'token'] },
  ABUSEGATE_TRUSTED_REPORTERS: { path: ['trustedReporters'], list: true },
  ABUSEGATE_LOG_LEVEL: { path: ['log', 'level'] },
};

export function isLeaf(node: SchemaNode): node is Leaf {
  return typeof (node as { kind?: unknown }).kind === 'string';
}
