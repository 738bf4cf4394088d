/**
 * Builds the parts of a running gateway from a frozen Config and starts and stops them
 * in order. main.ts adds signals and the process exit; tests start gateways in-process.
 */
import type { FastifyInstance } from 'fastify';
import type { RedisOptions } from 'ioredis';
import { type Clock, systemClock } from './clock.js';
import type { Config } from './config/schema.js';
import { Accounts } from './accounts.js';
import { Desk } from './desk.js';
import { Effects } from './effects.js';
import { caseRoutes } from './http/routes/cases.js';
import { preflightRoutes } from './http/routes/preflight.js';
import { Preflight } from './preflight.js';
import { adminAuth, platformAuth } from './http/auth.js';
import { accountRoutes } from './http/routes/accounts.js';
import { eventRoutes } from './http/routes/events.js';
import { lookupFastPath, suppressionRoutes } from './http/routes/suppressions.js';
import { unsubscribeRoutes } from './http/routes/unsubscribe.js';
import { vettingRoutes } from './http/routes/vetting.js';
import { consentRoutes } from './http/routes/consents.js';
import { Consents } from './consent/index.js';
import { createConsentCodec } from './token/consent.js';
import { consentPages } from './web/consent.js';
import { Vetting } from './vetting/index.js';
import { assetRoutes } from './web/assets.js';
import { deskRoutes } from './web/desk/routes.js';
import { Operators } from './store/operators.js';
import { Traffic } from './traffic.js';
import { sendsEvents } from './webhook/endpoints.js';
import { startWebhookWorker } from './webhook/index.js';
import { createReporterAuth } from './trust/reporters.js';
import { createHttpServer, createInternalServer } from './http/server.js';
import { Ingest } from './ingest.js';
import { createLogger, type Logger } from './log.js';
import { abuseWords } from './parse/abuse/words.js';
import { loadBounceRules } from './parse/bounce/index.js';
import { parseMessage } from './parse/index.js';
import { createPolicyServer } from './policy/server.js';
import { createSmtpServer, type SmtpEdge } from './smtp/server.js';
import { Keys } from './store/keys.js';
import { RedisHealth } from './store/health.js';
import { type LocalRedis, startLocalRedis } from './store/local.js';
import { createRedis, type RedisClient } from './store/redis.js';
import { Store } from './store/store.js';
import { GlobalMirror } from './store/globalMirror.js';
import { formKeySource } from './store/formkey.js';
import { SmsIndex } from './store/sms.js';
import { smsRoutes } from './http/routes/sms.js';
import { knownRegions } from './phone.js';
import { loadKeywords } from './rules/smskeywords.js';
import { ReportPages } from './web/report.js';
import { createTokenCodec, parseTokenSecrets, type TokenCodec } from './token/token.js';

/** How often closed cases are archived (cases.archiveAfterDays is in days: an hour is plenty). */
const ARCHIVE_EVERY_MS = 3_600_000;

/** 24 → "24h", 168 → "7d". */
export function windowName(hours: number): string {
  return hours % 24 === 0 && hours >= 48 ? `${hours / 24}d` : `${hours}h`;
}

export interface GatewayOptions {
  config: Config;
  log?: Logger;
  clock?: Clock;
  /** Extra ioredis options (tests shorten reconnect back-off). */
  redisOptions?: Partial<RedisOptions>;
}

export class Gateway {
  smtpPort = 0;
  httpPort = 0;
  policyPort = 0;
  /** The internal listener's port (http.internalPort), 0 when there is none. */
  internalPort = 0;

  private constructor(
    readonly config: Config,
    readonly log: Logger,
    readonly redis: RedisClient,
    readonly store: Store,
    readonly ingest: Ingest,
    readonly codec: TokenCodec | null,
    private readonly smtp: SmtpEdge,
    readonly http: FastifyInstance,
    private readonly policy: PolicyServer,
    /** The delivery worker (stopped with the gateway; a test may stop it earlier to look at the outbox). */
    readonly webhooks: { stop(): Promise<void> },
    private readonly localRedis: LocalRedis | null,
    private readonly health: RedisHealth,
    private readonly internal: FastifyInstance | null,
    private readonly archiver: NodeJS.Timeout,
    readonly globalMirror: GlobalMirror,
  ) {}

  static async start(opts: GatewayOptions): Promise<Gateway> {
    const { config } = opts;
    const log = opts.log ?? createLogger(config.log.level);
    const clock = opts.clock ?? systemClock;
    const codec = config.tokens.secret
      ? createTokenCodec(parseTokenSecrets(config.tokens.secret), { legacyShortUntil: config.tokens.legacyShortUntil ? Date.parse(config.tokens.legacyShortUntil) : null, now: () => clock.now() })
      : null;
    if (!codec) log.warn({ code: 'TOKENS_UNCONFIGURED' }, 'no token secret: reports cannot be attributed to accounts');
    const bounceRules = loadBounceRules();
    // Read now, like the bounce rules: a broken data file stops the start, rather than
    // turning every abuse@ report into a parse error later.
    abuseWords();

    const local = config.redis.local;
    const localRedis = config.redis.url || config.redis.cluster.length
      ? null
      : await startLocalRedis({
          dir: local.dir,
          appendfsync: local.appendfsync,
          supervise: { log: log.child({ part: 'redis' }), backoffMs: local.restartMinMs, maxBackoffMs: local.restartMaxMs },
        });
    if (localRedis) log.info({ code: 'LOCAL_REDIS', socket: localRedis.url }, 'started a local redis-server');
    const redis = createRedis({ url: config.redis.url ?? localRedis?.url ?? null, cluster: config.redis.cluster, commandTimeout: config.redis.commandTimeout, extra: opts.redisOptions });
    redis.on('error', (err: Error) => log.warn({ code: 'REDIS_ERROR', err: err.message }, 'redis connection error'));
    // Start even when Redis is down: SMTP answers 451 and /readyz says so until it returns.
    await redis.connect().catch((err: Error) => log.error({ code: 'REDIS_UNREACHABLE', err: err.message }, 'redis unreachable at start'));
    const health = new RedisHealth({ redis, config: config.redis, log, local: localRedis });
    try {
      await health.checkAtStart();
    } catch (err) {
      redis.disconnect();
      await localRedis?.stop();
      throw err;
    }
    health.start();

    const store = new Store(redis, new Keys(config.redis.prefix, config.redis.partitions), {
      retentionMs: config.reports.retentionDays * 86_400_000,
      quarantineKeep: config.quarantine.keep,
      windows: config.rates.windowHours.map((hours) => ({ name: windowName(hours), hours })),
      dedupMs: config.rates.dedupDays * 86_400_000,
      warningWindowMs: config.rates.warningWindowDays * 86_400_000,
      engagedMs: config.bounces.engagedDays * 86_400_000,
      sendsEvents: sendsEvents(config.webhooks),
      replication: { replicas: config.redis.waitReplicas, timeoutMs: config.redis.waitTimeoutMs },
    });
    // Found out now when not configured (Redis away: on the first write instead).
    await store.replication
      .replicas()
      .then((n) => log.info({ code: 'REDIS_WAIT_REPLICAS', replicas: n, timeoutMs: config.redis.waitTimeoutMs }, n ? `writes are acknowledged once ${n} replica(s) hold them` : 'writes are acknowledged without waiting for a replica'))
      .catch(() => {});
    const effects = new Effects(store, config, clock, log.child({ part: 'effects' }));
    const unknownRegions = config.phone.regions.filter((r) => knownRegions([r]).length === 0);
    if (unknownRegions.length) throw new Error(`phone.regions: unknown region(s) ${unknownRegions.join(', ')} (ISO 3166 codes such as GB)`);
    const sms = new SmsIndex(redis, store.keys, { traceMs: config.sms.traceDays * 86_400_000, perNumber: config.sms.perNumber });
    const desk = new Desk(store, effects, config, clock, log.child({ part: 'desk' }), sms);
    const ingest = new Ingest({
      store,
      effects,
      desk,
      caseFeedbackTypes: config.investigation.feedbackTypes,
      authenticate: ((auth) => (input) => auth({ ...input, maxDkimSignatures: config.smtp.maxDkimSignatures }))(createReporterAuth({ trusted: config.trustedReporters }, { mta: config.smtp.hostname })),
      parse: parseMessage,
      bind: (token, raw) => {
        if (!codec) return null;
        // The returned message's long token, when an MTA lost the VERP address; findInText
        // is a bounded linear scan, over the first 256 KiB only.
        const c = (token ? codec.verify(token) : null) ?? codec.findInText(raw.subarray(0, 262_144).toString('latin1'))[0] ?? null;
        return c ? { account: c.account, legacy: c.form === 'short' && !c.recipientTag, boundTo: (address) => codec.boundTo(c, address) } : null;
      },
      parseOptions: {
        codec: codec ?? undefined,
        tokenHeader: config.tokens.header,
        bounceRules,
        limits: { maxDepth: config.smtp.maxMimeDepth, maxParts: config.smtp.maxMimeParts },
        phoneRegions: config.phone.regions,
        deadlineMs: config.smtp.parseDeadlineMs,
      },
      maxHeaderBytes: config.smtp.maxHeaderBytes,
      clock,
      log,
      quarantineBytes: config.quarantine.maxBytes,
    });
    const smtp = createSmtpServer(config.smtp, ingest, log.child({ edge: 'smtp' }), (scope, ip, n) => store.hit(scope, ip, clock.now(), n));
    const ready = {
      redis: async () => (localRedis?.down ? { ok: false, reason: localRedis.down } : (await store.ping()) || { ok: false, reason: `redis does not answer (${redis.status})` }),
      smtp: () => smtp.listening,
      policy: () => policy.listening,
    };
    // Two doors (docs/security.md): the platform's routes need its token (or an admin's).
    const platform = platformAuth(config.platform.token, config.admin.token);
    const internal = config.http.internalPort === null ? null : await createInternalServer(config.http, { log, ready, warnings: () => health.warnings(), pages: config.desk.listener === 'internal' });
    const http = await createHttpServer(config.http, {
      log,
      ready,
      warnings: () => health.warnings(),
      metrics: internal ? null : platform,
      fastPath: lookupFastPath({ store, platform }),
      routes: (app) => {
        const auth = adminAuth(config.admin.token);
        assetRoutes(app);
        eventRoutes(app, new Traffic(store, clock, sms), store, platform);
        const vetting = new Vetting(store, config, clock);
        const accounts = new Accounts(store, config.rates, clock, vetting);
        accountRoutes(app, accounts, store, auth);
        vettingRoutes(app, { vetting, store, platform, admin: auth });
        const consents = new Consents(store, config.tokens.secret ? createConsentCodec(parseTokenSecrets(config.tokens.secret)) : null, config.consent, clock);
        consentRoutes(app, { consents, platform });
        consentPages(app, {
          consents,
          store,
          confirmDays: config.consent.confirmDays,
          limit: async (ip) => config.consent.perMinute === 0 || (await store.hit('consent', ip, clock.now()).catch(() => 0)) <= config.consent.perMinute,
        });
        suppressionRoutes(app, { store, clock, admin: auth, platform });
        unsubscribeRoutes(app, {
          codec,
          effects,
          store,
          limit: async (ip) => config.form.unsubscribePerMinute === 0 || (await store.hit('unsubscribe', ip, clock.now()).catch(() => 0)) <= config.form.unsubscribePerMinute,
        });
        preflightRoutes(app, { preflight: new Preflight(store, config, clock, log.child({ part: 'preflight' })), store, bodyLimit: config.http.bodyLimit, platform });
        const pages = new ReportPages({
          operatorName: config.report.operatorName,
          privacyUrl: config.report.privacyUrl,
          regions: config.phone.regions,
          formKey: formKeySource(config.tokens.secret, redis, store.keys),
          clock,
          minFillMs: config.report.minFillSeconds * 1000,
          maxFillMs: config.report.maxFillHours * 3_600_000,
        });
        pages.register(app);
        caseRoutes(app, { desk, ingest, store, clock, admin: auth, platform, phoneRegions: config.phone.regions, ratePerMinute: config.form.ratePerMinute, pages });
        smsRoutes(app, { store, effects, sms, keywords: loadKeywords(), clock, regions: config.phone.regions, platform });
        // The console beside the report page, or only where the internet cannot reach it (desk.listener).
        const deskApp = config.desk.listener === 'internal' && internal ? internal : app;
        if (deskApp !== app) assetRoutes(deskApp);
        deskRoutes(deskApp, { store, desk, accounts, operators: new Operators(redis, store.keys), clock, config, log: log.child({ part: 'desk' }), vetting });
      },
    });
    const policy = createPolicyServer(
      { ...config.policy, verpPrefix: config.smtp.mailboxes.bounces },
      {
        log: log.child({ edge: 'policy' }),
        accountFromToken: (token) => {
          const c = codec?.verify(token);
          return c?.form === 'short' ? c.account : null;
        },
        // The account's list and the global list, in one round trip each.
        lookup: async (account, address) => (await store.checkSuppressions(account, 'email', [address]))[0] ?? null,
      },
    );
    // Delivery runs on real time (retry schedules, webhook-timestamp), never a test clock.
    const webhooks = startWebhookWorker({ redis, keys: store.keys, config: config.webhooks, log: log.child({ part: 'webhooks' }) });
    // Closed cases leave the list after cases.archiveAfterDays (every instance may sweep: archiving is idempotent).
    const archiveMs = config.cases.archiveAfterDays * 86_400_000;
    const archiver = setInterval(
      () =>
        void store
          .archiveCases(clock.now(), archiveMs)
          .then((n) => n > 0 && log.info({ code: 'CASES_ARCHIVED', archived: n }, `archived ${n} closed case(s)`))
          .catch((err: Error) => log.warn({ code: 'CASES_ARCHIVE_FAILED', err: err.message }, 'archiving closed cases failed; trying again in an hour')),
      ARCHIVE_EVERY_MS,
    );
    archiver.unref();
    // The global suppression lists in memory: a single lookup makes one HGET, not two.
    const mirror = new GlobalMirror(redis, store.keys, log.child({ part: 'global-mirror' })).start();
    store.suppressions.globalMirror = mirror;
    const gw = new Gateway(config, log, redis, store, ingest, codec, smtp, http, policy, webhooks, localRedis, health, internal, archiver, mirror);
    try {
      gw.smtpPort = await smtp.listen();
      gw.policyPort = await policy.listen();
      await http.listen({ port: config.http.port, host: config.http.host });
      gw.httpPort = (http.server.address() as { port: number }).port;
      if (internal) {
        await internal.listen({ port: config.http.internalPort!, host: config.http.internalHost });
        gw.internalPort = (internal.server.address() as { port: number }).port;
      }
    } catch (err) {
      await gw.stop(0);
      throw err;
    }
    log.info({ code: 'STARTED', smtp: gw.smtpPort, http: gw.httpPort, policy: gw.policyPort }, 'abusegate listening');
    return gw;
  }

  /** Stops accepting, lets messages in flight finish (at most graceMs), then closes. */
  async stop(graceMs = this.config.shutdown.graceMs): Promise<void> {
    await Promise.all([this.smtp.stop(graceMs), this.http.close(), this.internal?.close(), this.policy.stop(graceMs)]);
    await this.webhooks.stop();
    clearInterval(this.archiver);
    this.globalMirror.stop();
    this.health.stop();
    this.redis.disconnect();
    await this.localRedis?.stop();
    this.log.info({ code: 'STOPPED' }, 'abusegate stopped');
  }
}

type PolicyServer = ReturnType<typeof createPolicyServer>;
