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
import { adminAuth } from './http/auth.js';
import { accountRoutes } from './http/routes/accounts.js';
import { eventRoutes } from './http/routes/events.js';
import { suppressionRoutes } from './http/routes/suppressions.js';
import { unsubscribeRoutes } from './http/routes/unsubscribe.js';
import { vettingRoutes } from './http/routes/vetting.js';
import { consentRoutes } from './http/routes/consents.js';
import { Consents } from './consent/index.js';
import { createConsentCodec } from './token/consent.js';
import { consentPages } from './web/consent.js';
import { Vetting } from './vetting/index.js';
import { assetRoutes } from './web/assets.js';
import { Traffic } from './traffic.js';
import { startWebhookWorker } from './webhook/index.js';
import { createReporterAuth } from './trust/reporters.js';
import { createHttpServer } from './http/server.js';
import { Ingest } from './ingest.js';
import { createLogger, type Logger } from './log.js';
import { loadBounceRules } from './parse/bounce/index.js';
import { parseMessage } from './parse/index.js';
import { createPolicyServer } from './policy/server.js';
import { createSmtpServer, type SmtpEdge } from './smtp/server.js';
import { Keys } from './store/keys.js';
import { type LocalRedis, startLocalRedis } from './store/local.js';
import { createRedis, type RedisClient } from './store/redis.js';
import { Store } from './store/store.js';
import { createTokenCodec, parseTokenSecrets, type TokenCodec } from './token/token.js';

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
    private readonly webhooks: { stop(): Promise<void> },
    private readonly localRedis: LocalRedis | null,
  ) {}

  static async start(opts: GatewayOptions): Promise<Gateway> {
    const { config } = opts;
    const log = opts.log ?? createLogger(config.log.level);
    const clock = opts.clock ?? systemClock;
    const codec = config.tokens.secret ? createTokenCodec(parseTokenSecrets(config.tokens.secret)) : null;
    if (!codec) log.warn({ code: 'TOKENS_UNCONFIGURED' }, 'no token secret: reports cannot be attributed to accounts');
    const bounceRules = loadBounceRules();

    const localRedis = config.redis.url || config.redis.cluster.length
      ? null
      : await startLocalRedis({ dir: config.redis.local.dir, appendfsync: config.redis.local.appendfsync });
    if (localRedis) log.info({ code: 'LOCAL_REDIS', socket: localRedis.url }, 'started a local redis-server');
    const redis = createRedis({ url: config.redis.url ?? localRedis?.url ?? null, cluster: config.redis.cluster, commandTimeout: config.redis.commandTimeout, extra: opts.redisOptions });
    redis.on('error', (err: Error) => log.warn({ code: 'REDIS_ERROR', err: err.message }, 'redis connection error'));
    // Start even when Redis is down: SMTP answers 451 and /readyz says so until it returns.
    await redis.connect().catch((err: Error) => log.error({ code: 'REDIS_UNREACHABLE', err: err.message }, 'redis unreachable at start'));

    const store = new Store(redis, new Keys(config.redis.prefix, config.redis.partitions), {
      retentionMs: config.reports.retentionDays * 86_400_000,
      quarantineKeep: config.quarantine.keep,
      windows: config.rates.windowHours.map((hours) => ({ name: windowName(hours), hours })),
      dedupMs: config.rates.dedupDays * 86_400_000,
      warningWindowMs: config.rates.warningWindowDays * 86_400_000,
    });
    const effects = new Effects(store, config, clock, log.child({ part: 'effects' }));
    const desk = new Desk(store, effects, config, clock, log.child({ part: 'desk' }));
    const ingest = new Ingest({
      store,
      effects,
      desk,
      caseFeedbackTypes: config.investigation.feedbackTypes,
      authenticate: createReporterAuth({ trusted: config.trustedReporters }, { mta: config.smtp.hostname }),
      parse: parseMessage,
      parseOptions: {
        codec: codec ?? undefined,
        tokenHeader: config.tokens.header,
        bounceRules,
        limits: { maxDepth: config.smtp.maxMimeDepth, maxParts: config.smtp.maxMimeParts },
        phoneRegion: config.form.phoneRegion,
        deadlineMs: config.smtp.parseDeadlineMs,
      },
      maxHeaderBytes: config.smtp.maxHeaderBytes,
      clock,
      log,
      quarantineBytes: config.quarantine.maxBytes,
    });
    const smtp = createSmtpServer(config.smtp, ingest, log.child({ edge: 'smtp' }), (scope, ip) => store.hit(scope, ip, clock.now()));
    const http = await createHttpServer(config.http, {
      log,
      ready: { redis: () => store.ping(), smtp: () => smtp.listening, policy: () => policy.listening },
      routes: (app) => {
        const auth = adminAuth(config.admin.token);
        assetRoutes(app);
        eventRoutes(app, new Traffic(store, clock));
        const vetting = new Vetting(store, config, clock);
        accountRoutes(app, new Accounts(store, config.rates, clock, vetting), auth);
        vettingRoutes(app, { vetting, platform: auth, admin: auth });
        const consents = new Consents(store, config.tokens.secret ? createConsentCodec(parseTokenSecrets(config.tokens.secret)) : null, config.consent, clock);
        consentRoutes(app, { consents, platform: auth });
        consentPages(app, {
          consents,
          confirmDays: config.consent.confirmDays,
          limit: async (ip) => config.consent.perMinute === 0 || (await store.hit('consent', ip, clock.now()).catch(() => 0)) <= config.consent.perMinute,
        });
        suppressionRoutes(app, { store, clock, admin: auth });
        unsubscribeRoutes(app, {
          codec,
          effects,
          limit: async (ip) => config.form.unsubscribePerMinute === 0 || (await store.hit('unsubscribe', ip, clock.now()).catch(() => 0)) <= config.form.unsubscribePerMinute,
        });
        preflightRoutes(app, { preflight: new Preflight(store, config, clock, log.child({ part: 'preflight' })), bodyLimit: config.http.bodyLimit });
        caseRoutes(app, { desk, ingest, store, clock, admin: auth, phoneRegion: config.form.phoneRegion, ratePerMinute: config.form.ratePerMinute });
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
    const gw = new Gateway(config, log, redis, store, ingest, codec, smtp, http, policy, webhooks, localRedis);
    try {
      gw.smtpPort = await smtp.listen();
      gw.policyPort = await policy.listen();
      await http.listen({ port: config.http.port, host: config.http.host });
      gw.httpPort = (http.server.address() as { port: number }).port;
    } catch (err) {
      await gw.stop(0);
      throw err;
    }
    log.info({ code: 'STARTED', smtp: gw.smtpPort, http: gw.httpPort, policy: gw.policyPort }, 'abusegate listening');
    return gw;
  }

  /** Stops accepting, lets messages in flight finish (at most graceMs), then closes. */
  async stop(graceMs = this.config.shutdown.graceMs): Promise<void> {
    await Promise.all([this.smtp.stop(graceMs), this.http.close(), this.policy.stop(graceMs)]);
    await this.webhooks.stop();
    this.redis.disconnect();
    await this.localRedis?.stop();
    this.log.info({ code: 'STOPPED' }, 'abusegate stopped');
  }
}

type PolicyServer = ReturnType<typeof createPolicyServer>;
