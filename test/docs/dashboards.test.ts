import { readFileSync } from 'node:fs';
import t from 'tap';
import { parse } from 'yaml';
import '../../src/gateway.js'; // every module, so every metric is registered
import { registry } from '../../src/metrics.js';

// The dashboard and the alert rules only name metrics that exist (a rename breaks this).
// Digits belong to names (abusegate_nodejs_eventloop_lag_p99_seconds).
const names = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));
const used = (text: string) => [...new Set([...text.matchAll(/\babusegate_[a-z0-9_]+?(?=_bucket\b|[^a-z0-9_]|$)/g)].map((m) => m[0]))];

t.test('grafana dashboard', async (t) => {
  const text = readFileSync(new URL('../../config/grafana-dashboard.json', import.meta.url), 'utf8');
  const dash = JSON.parse(text);
  t.ok(dash.panels.length >= 10);
  for (const m of used(text)) t.ok(names.has(m), `${m} exists`);
});

t.test('prometheus alert rules', async (t) => {
  const text = readFileSync(new URL('../../config/prometheus-alerts.yaml', import.meta.url), 'utf8');
  const rules = parse(text).groups[0].rules;
  t.ok(rules.length >= 6);
  for (const r of rules) t.ok(r.alert && r.expr && r.labels?.severity, r.alert);
  for (const m of used(text)) t.ok(names.has(m), `${m} exists`);
});
