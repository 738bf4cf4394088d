/** Metrics of the policy delegation service; label values come from closed lists. */
import client from 'prom-client';
import { registry } from '../metrics.js';

export const policyRequests = new client.Counter({
  name: 'abusegate_policy_requests_total',
  help: 'Postfix policy requests by result (reject, dunno, defer, malformed)',
  labelNames: ['result'] as const,
  registers: [registry],
});

export const policyDuration = new client.Histogram({
  name: 'abusegate_policy_duration_seconds',
  help: 'Time from a complete policy request to its reply being written',
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2],
  registers: [registry],
});

// Every result appears in /metrics from the start, so rates work before the first reject.
for (const result of ['reject', 'dunno', 'defer', 'malformed'] as const) policyRequests.labels(result);
