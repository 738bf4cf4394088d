/**
 * Every metric, declared once with fixed label sets. Label values come from closed lists
 * (mailboxes, results, kinds), never from addresses or domains.
 */
import client from 'prom-client';

export const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry, prefix: 'abusegate_' });

export const smtpMessages = new client.Counter({
  name: 'abusegate_smtp_messages_total',
  help: 'SMTP messages by mailbox and result (accepted, quarantined, tempfail, rejected)',
  labelNames: ['mailbox', 'result'] as const,
  registers: [registry],
});

export const smtpRcptRejected = new client.Counter({
  name: 'abusegate_smtp_rcpt_rejected_total',
  help: 'RCPT TO commands refused, by reason',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const messageSize = new client.Histogram({
  name: 'abusegate_smtp_message_size_bytes',
  help: 'Size of messages received over SMTP',
  buckets: [1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 10485760],
  registers: [registry],
});

export const parseDuration = new client.Histogram({
  name: 'abusegate_parse_duration_seconds',
  help: 'Time to parse one message into a report',
  labelNames: ['kind'] as const,
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5],
  registers: [registry],
});

export const reportsByKind = new client.Counter({
  name: 'abusegate_reports_total',
  help: 'Reports recorded, by kind',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const redisErrors = new client.Counter({
  name: 'abusegate_redis_errors_total',
  help: 'Redis operations that failed or timed out, by operation',
  labelNames: ['op'] as const,
  registers: [registry],
});

export const internalFaults = new client.Counter({
  name: 'abusegate_internal_faults_total',
  help: 'Requests and messages that failed on a bug (not Redis being unavailable), by edge',
  labelNames: ['edge'] as const,
  registers: [registry],
});

/** Counts held as plain numbers by hotCount(), added to their counter when it is read. */
const held = new Map<client.Counter<string>, Array<() => void>>();

function addHeld(this: client.Counter<string>): void {
  for (const add of held.get(this) ?? []) add();
}

/**
 * One series of a counter, incremented where a prom-client inc() (labels hashed into the
 * series map on every call) is a measurable share of the work: the lookup fast path, tens
 * of thousands of times a second. The count is a plain number until the counter is read;
 * the counter must be declared with `collect: addHeld`.
 */
export function hotCount<T extends string>(counter: client.Counter<T>, labels: client.LabelValues<T>): () => void {
  let n = 0;
  const adds = held.get(counter as client.Counter<string>) ?? [];
  held.set(counter as client.Counter<string>, adds);
  adds.push(() => {
    if (n > 0) counter.inc(labels, n);
    n = 0;
  });
  return () => void n++;
}

export const httpRequests = new client.Counter({
  name: 'abusegate_http_requests_total',
  help: 'HTTP requests by route and status class',
  labelNames: ['route', 'status'] as const,
  registers: [registry],
  collect: addHeld,
});

export const unattributedReports = new client.Counter({
  name: 'abusegate_unattributed_reports_total',
  help: 'Reports that named no account we could verify, kept for review, by kind',
  labelNames: ['kind'] as const,
  registers: [registry],
});

export const accountActions = new client.Counter({
  name: 'abusegate_account_actions_total',
  help: 'Warnings and suspensions issued, by action (warned, suspended) and kind (complaint, bounce, investigation)',
  labelNames: ['action', 'kind'] as const,
  registers: [registry],
});

export const smsTraces = new client.Counter({
  name: 'abusegate_sms_traces_total',
  help: 'SMS reports traced through the recent-sends index, by result (one account, several, none)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const smsInbound = new client.Counter({
  name: 'abusegate_sms_inbound_total',
  help: 'Inbound texts (POST /v1/sms/inbound), by keyword (stop, start, help, other)',
  labelNames: ['keyword'] as const,
  registers: [registry],
});

export const localRedisRestarts = new client.Counter({
  name: 'abusegate_redis_restarts_total',
  help: 'Restarts of the embedded redis-server after it exited on its own',
  registers: [registry],
});

export const redisRefusals = new client.Counter({
  name: 'abusegate_redis_refusals_total',
  help: 'Redis writes refused for lack of room, by reason (misconf: it cannot persist, e.g. a full disk; oom: maxmemory reached)',
  labelNames: ['reason'] as const,
  registers: [registry],
});

export const notReplicated = new client.Counter({
  name: 'abusegate_writes_not_replicated_total',
  help: 'Writes not acknowledged (451 / 503 STORE_NOT_REPLICATED) because fewer than redis.waitReplicas replicas confirmed them within redis.waitTimeoutMs',
  registers: [registry],
});

export const redisUsedMemory = new client.Gauge({
  name: 'abusegate_redis_used_memory_bytes',
  help: 'Redis used_memory (in a cluster: of the fullest master)',
  registers: [registry],
});

export const redisMaxMemory = new client.Gauge({
  name: 'abusegate_redis_maxmemory_bytes',
  help: 'Redis maxmemory of the same node (0: no limit)',
  registers: [registry],
});

export const redisSettingsProblems = new client.Gauge({
  name: 'abusegate_redis_settings_problems',
  help: 'Redis settings found at the last check that can lose data (evicting policy, no persistence) and were not allowed in the config',
  registers: [registry],
});

export const localRedisAofBytes = new client.Gauge({
  name: 'abusegate_redis_aof_bytes',
  help: 'Size of the embedded Redis append-only file(s)',
  registers: [registry],
});

export const localRedisDiskFree = new client.Gauge({
  name: 'abusegate_redis_disk_free_bytes',
  help: 'Free space of the filesystem holding the embedded Redis data',
  registers: [registry],
});

export const loopBlocked = new client.Counter({
  name: 'abusegate_event_loop_blocked_total',
  help: 'Messages whose processing held the event loop longer than smtp.blockedWarnMs',
  registers: [registry],
});

export const bounceRecipientsIgnored = new client.Counter({
  name: 'abusegate_bounce_recipients_ignored_total',
  help: 'Failed recipients named in a bounce that its VERP token does not speak for (not suppressed, not counted), by why (other-recipient, unverified-token)',
  labelNames: ['why'] as const,
  registers: [registry],
});

export const investigationOutcomes = new client.Counter({
  name: 'abusegate_investigation_reports_total',
  help: 'Abuse reports that opened or joined a case, by the rule that suspended the account (none when no rule held)',
  labelNames: ['rule'] as const,
  registers: [registry],
});

export const authRejected = new client.Counter({
  name: 'abusegate_http_auth_rejected_total',
  help: 'Requests to bearer-token routes refused, by scope (admin, platform)',
  labelNames: ['scope'] as const,
  registers: [registry],
});
