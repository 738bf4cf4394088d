/**
 * Webhook delivery metrics. `endpoint` is "default" (webhooks.url) or the index of the
 * entry in webhooks.endpoints: never a URL, which may carry ids or tokens. The outbox
 * gauges are measured by every gateway alike; aggregate them with max(), not sum().
 */
import client from 'prom-client';
import { registry } from '../metrics.js';

export const webhookDeliveries = new client.Counter({
  name: 'abusegate_webhook_deliveries_total',
  help: 'Webhook delivery attempts by endpoint and result (delivered, failed, timeout, dead)',
  labelNames: ['endpoint', 'result'] as const,
  registers: [registry],
});

export const webhookDeliverySeconds = new client.Histogram({
  name: 'abusegate_webhook_delivery_seconds',
  help: 'Time from sending a webhook POST to its answer (or timeout), by endpoint',
  labelNames: ['endpoint'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

export const outboxDepth = new client.Gauge({
  name: 'abusegate_outbox_depth',
  help: 'Deliveries owed: outbox entries not yet acknowledged per endpoint, plus events waiting for a retry',
  registers: [registry],
});

export const outboxOldestAge = new client.Gauge({
  name: 'abusegate_outbox_oldest_age_seconds',
  help: 'Age of the oldest event not yet delivered to every endpoint (0 when none)',
  registers: [registry],
});

export const webhookDeadLetters = new client.Counter({
  name: 'abusegate_webhook_dead_letters_total',
  help: 'Events moved to the dead-letter stream after their last retry, by endpoint',
  labelNames: ['endpoint'] as const,
  registers: [registry],
});
