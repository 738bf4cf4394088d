import t from 'tap';
import { type InvestigationConfig, type InvestigationInput, suspicions } from '../../src/rules/investigation.js';

const cfg: InvestigationConfig = {
  feedbackTypes: ['fraud', 'virus'],
  phishingLanguage: true,
  whenWarned: true,
  complaintRateShareOfWarn: 0.5,
  accountYoungerThanDays: 14,
  confirmedCases: 1,
  sendingDomains: ['send.example'],
};
const NOW = Date.parse('2026-06-01T00:00:00Z');
const DAY = 86_400_000;
const base: InvestigationInput = {
  feedbackType: null,
  phishing: false,
  tokenState: 'valid',
  originDomains: ['send.example'],
  account: { warned: false, complaintRate: 0.0001, warnThreshold: 0.0008, createdAt: NOW - 100 * DAY, confirmedCases: 0 },
  now: NOW,
};

const cases: Array<[string, Partial<InvestigationInput>, string[], Partial<InvestigationConfig>?]> = [
  ['a clean report on an old, quiet account', {}, []],
  ['feedback type fraud', { feedbackType: 'fraud' }, ['feedback-type']],
  ['feedback type virus', { feedbackType: 'virus' }, ['feedback-type']],
  ['feedback type abuse is not suspicious by itself', { feedbackType: 'abuse' }, []],
  ['phishing language', { phishing: true }, ['phishing-language']],
  ['phishing language, rule off', { phishing: true }, [], { phishingLanguage: false }],
  ['already warned', { account: { ...base.account!, warned: true } }, ['account-warned']],
  ['complaint rate above half the warn threshold', { account: { ...base.account!, complaintRate: 0.00041 } }, ['complaint-rate']],
  ['complaint rate at exactly half', { account: { ...base.account!, complaintRate: 0.0004 } }, []],
  ['complaint rate unknown (small volume)', { account: { ...base.account!, complaintRate: null } }, []],
  ['young account', { account: { ...base.account!, createdAt: NOW - 3 * DAY } }, ['new-account']],
  ['an earlier confirmed case', { account: { ...base.account!, confirmedCases: 1 } }, ['confirmed-cases']],
  ['one confirmed case, two needed', { account: { ...base.account!, confirmedCases: 1 } }, [], { confirmedCases: 2 }],
  ['confirmed cases, rule off', { account: { ...base.account!, confirmedCases: 5 } }, [], { confirmedCases: 0 }],
  ['young account, rule off', { account: { ...base.account!, createdAt: NOW - 3 * DAY } }, [], { accountYoungerThanDays: 0 }],
  ['forged token naming our domain', { tokenState: 'forged', account: null }, ['token-missing-or-forged']],
  ['missing token naming our subdomain', { tokenState: 'missing', originDomains: ['mta1.send.example'], account: null }, ['token-missing-or-forged']],
  ['missing token, not our domain', { tokenState: 'missing', originDomains: ['elsewhere.example'], account: null }, []],
  ['a domain that merely ends like ours', { tokenState: 'missing', originDomains: ['notsend.example'], account: null }, []],
  ['several at once', { feedbackType: 'fraud', phishing: true, account: { ...base.account!, warned: true } }, ['feedback-type', 'phishing-language', 'account-warned']],
];
for (const [name, over, want, cfgOver] of cases) {
  t.same(suspicions({ ...base, ...over }, { ...cfg, ...cfgOver }), want, name);
}
