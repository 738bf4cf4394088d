/** Seeding for desk console tests and screenshots: an operator and a few cases through the public API. */
import type { Gateway } from '../../src/gateway.js';
import { Operators } from '../../src/store/operators.js';

export const OPERATOR = { name: 'alice', password: 'correct horse battery staple' };
export const XSS = {
  script: '<script>window.__xss = "script"; alert(1)</script>',
  onerror: '<img src=x onerror="window.__xss = \'img\'; alert(2)">',
};

export async function addOperator(gw: Gateway, name = OPERATOR.name, password = OPERATOR.password): Promise<void> {
  await new Operators(gw.redis, gw.store.keys).set(name, password, Date.now());
}

/** Files a web-form report about account/campaign; returns the case id. */
export async function fileReport(gw: Gateway, o: { account: string; campaign: string; description: string; subject?: string; recipient?: string }): Promise<string> {
  // X-Abuse-Token carries the long form, which names the recipient (contracts.md).
  const token = gw.codec!.mintLong({ account: o.account, campaign: o.campaign, recipient: o.recipient ?? 'person@recipient.example' });
  const headers = [
    'Received: from mta1.send.example (mta1.send.example [192.0.2.10]) by mx.recipient.example',
    `From: Deals <deals@${o.account}.example>`,
    `To: ${o.recipient ?? 'person@recipient.example'}`,
    `Subject: ${o.subject ?? 'Amazing deals'}`,
    'Date: Tue, 30 Jun 2026 08:00:00 +0000',
    `Message-ID: <${o.campaign}-1@send.example>`,
    `X-Abuse-Token: ${token}`,
  ].join('\n');
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/v1/abuse-reports`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'email', headers, description: o.description, reporterEmail: 'person@recipient.example' }),
  });
  const body = (await res.json()) as { caseId?: string };
  if (res.status !== 202 || !body.caseId) throw new Error(`report refused: ${res.status} ${JSON.stringify(body)}`);
  return body.caseId;
}
