/**
 * Webhook delivery: `startWebhookWorker` runs in every gateway process next to the edges.
 * See worker.ts for the guarantees, sign.ts for the signature scheme.
 */
import { WebhookWorker, type WorkerDeps } from './worker.js';

export { WebhookWorker, type WorkerDeps } from './worker.js';
export { decodeSecrets, signedHeaders, verify } from './sign.js';

export function startWebhookWorker(deps: WorkerDeps): { stop(): Promise<void> } {
  return new WebhookWorker(deps).start();
}
