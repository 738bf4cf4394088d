// Table-driven classification (config/bounce-rules.yaml through classify()).
import t from 'tap';
import { classify, loadBounceRules } from '../../src/parse/bounce/index.js';
import { matchText, providerReason } from '../../src/parse/bounce/rules.js';

const rules = loadBounceRules();

t.test('every text rule has an example that it matches', async (t) => {
  for (const r of [...rules.patterns, ...rules.weakPatterns]) {
    t.ok(r.re.test(r.example.replace(/\s+/g, ' ')), `${r.name}: ${r.example}`);
  }
  for (const st of rules.stages) t.ok(st.re.test(st.example), `stage ${st.name}: ${st.example}`);
  for (const c of rules.confirmations.values()) t.ok(c.re.test(c.example), `confirmation ${c.name}: ${c.example}`);
  for (const h of rules.headerRules) {
    const [name, value] = h.example.split(/:\s*/, 2);
    t.equal(name.toLowerCase(), h.header, `header verdict names its header: ${h.example}`);
    t.ok(h.re.test(value), `header verdict ${h.header}: ${h.example}`);
  }
});

t.test('every provider code table reads its example', async (t) => {
  for (const pc of rules.providerCodes) {
    const m = pc.re.exec(pc.example);
    t.ok(m, `${pc.name}: the code pattern finds a code in ${pc.example}`);
    t.ok(providerReason(rules, pc.example), `${pc.name}: the code in its example is in the table`);
  }
});

t.test('strong rule examples classify to their own reason', async (t) => {
  for (const r of rules.patterns) {
    t.equal(matchText(rules, r.example.replace(/\s+/g, ' '))?.reason, r.reason, r.example);
  }
});

type Row = [string, { status?: string; replyCode?: string; diagnostic?: string; action?: string; hosts?: string[] }, string, boolean, string | null];
const table: Row[] = [
  // [what, input, reason, hard, status]
  ['enhanced code and text agree', { diagnostic: '550 5.1.1 <kijitora@example.jp>... User Unknown' }, 'userunknown', true, '5.1.1'],
  ['status field only', { status: '5.1.1' }, 'userunknown', true, '5.1.1'],
  ['4.1.1 is still a missing mailbox', { status: '4.1.1', diagnostic: '450 4.1.1 <k@example.org>: Recipient address rejected: User unknown in virtual alias table' }, 'userunknown', true, '4.1.1'],
  ['mailbox full beats a 5.1.1 some servers send', { status: '5.1.1', diagnostic: '552 sorry, mailbox kijitora@example.org is over quota temporarily (#5.1.1)' }, 'mailboxfull', false, '5.1.1'],
  ['5.2.2 is precise', { status: '5.2.2', diagnostic: 'quota' }, 'mailboxfull', false, '5.2.2'],
  ['host unknown', { diagnostic: '550 5.1.2 <k@invalid.example>... Host unknown (Name server: invalid.example: host not found)' }, 'hostunknown', true, '5.1.2'],
  ['has moved', { status: '5.1.6', diagnostic: '550 5.1.6 k@example.com has been replaced by n@example.org' }, 'hasmoved', true, '5.1.6'],
  ['null MX, 5xx: hard', { status: '5.1.10', diagnostic: '556 5.1.10 Recipient address has null MX' }, 'notaccept', true, '5.1.10'],
  ['notaccept with 4xx: soft', { replyCode: '421', diagnostic: '421 This domain does not accept mail' }, 'notaccept', false, '4.1.10'],
  ['blocklisted sender IP is not the recipient\'s fault', { diagnostic: '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org' }, 'blocked', false, '5.7.1'],
  ['spam', { diagnostic: '550 5.7.1 Message rejected because it was identified as spam' }, 'spamdetected', false, '5.7.1'],
  ['DMARC', { status: '5.7.509', diagnostic: '550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification' }, 'authfailure', false, '5.7.509'],
  ['Gmail unauthenticated', { diagnostic: '550 5.7.26 This mail has been blocked because the sender is unauthenticated.' }, 'authfailure', false, '5.7.26'],
  ['no PTR', { diagnostic: '550 5.7.25 The IP address sending this message does not have a PTR record setup' }, 'requireptr', false, '5.7.25'],
  ['reputation', { diagnostic: '421 4.7.0 Our system has detected that this message is suspicious due to the very low reputation of the sending IP address' }, 'badreputation', false, '4.7.0'],
  ['policy', { diagnostic: '550 5.7.9 Message not accepted for policy reasons.' }, 'policyviolation', false, '5.7.9'],
  ['relay', { diagnostic: '554 5.7.1 <k@example.net>: Relay access denied' }, 'norelaying', false, '5.7.1'],
  ['too big', { diagnostic: '552 5.3.4 Message size exceeds fixed maximum message size' }, 'mesgtoobig', false, '5.3.4'],
  ['disabled mailbox', { diagnostic: '550 5.2.1 <k@example.jp>... Mailbox disabled, not accepting messages' }, 'suspend', false, '5.2.1'],
  ['user unknown after DATA: filtered', { diagnostic: 'host mx.example.jp[192.0.2.22] said: 550 User unknown (in reply to end of DATA command)' }, 'filtered', false, null],
  ['refused at connection: blocked', { diagnostic: 'SMTP error from remote mail server after initial connection: 554 Access denied' }, 'blocked', false, null],
  ['temporary DNS trouble is not an unknown host', { diagnostic: 'Name service error for domain example.com: Host not found, try again', action: 'failed' }, 'networkerror', false, '5.4.0'],
  ['failed after retrying a 4.4.1: expired', { status: '4.4.1', action: 'failed', diagnostic: 'connect to example.org[192.0.2.1]:25: Connection timed out' }, 'expired', false, '4.4.1'],
  ['delayed, nothing else said: expired', { action: 'delayed' }, 'expired', false, '4.4.7'],
  ['delivered', { status: '2.0.0', action: 'delivered' }, 'delivered', false, '2.0.0'],
  ['nothing at all', {}, 'undefined', false, null],
  ['text nobody knows', { diagnostic: '550 Something odd happened' }, 'onhold', false, null],
  ['continuation prefixes do not split a sentence', { diagnostic: '550-5.7.1 [192.0.2.1] Messages with multiple 550-5.7.1 addresses in From: header are not accepted.' }, 'notcompliantrfc', false, '5.7.1'],
  // A generic "user unknown" needs a X.1.x status or the RCPT stage (Sisimai's reading).
  ['user unknown at RCPT', { diagnostic: 'host mx.example.jp[192.0.2.1] said: 550 <k@example.jp>: User unknown (in reply to RCPT TO command)' }, 'userunknown', true, '5.1.1'],
  ['user unknown with a X.1.x status', { status: '5.1.1', diagnostic: '550 5.1.1 <k@example.jp>... User Unknown' }, 'userunknown', true, '5.1.1'],
  ['user unknown, stage unknown, no X.1.x status: a filter', { status: '5.0.0', diagnostic: '550 Unknown user k@example.jp' }, 'filtered', false, '5.0.0'],
  ['user unknown with a mailbox status, stage unknown: a filter', { status: '5.2.1', diagnostic: '550 5.2.1 <k@example.jp>... User Unknown' }, 'filtered', false, '5.2.1'],
  ['user unknown with a mailbox status at RCPT', { status: '5.2.1', diagnostic: '550 5.2.1 <k@example.jp>... User Unknown [RCPT_TO]' }, 'userunknown', true, '5.2.1'],
  ['the MTA\'s own words need no stage', { diagnostic: 'Unknown user: k@example.com' }, 'userunknown', true, '5.1.1'],
  ['KDDI filter answer', { status: '5.0.0', diagnostic: '550 : User unknown (in reply to RCPT TO command)' }, 'filtered', false, '5.0.0'],
  ['Postfix gives the reason after the colon', { status: '5.6.0', diagnostic: '550 5.6.0 <k@example.net>: Recipient address rejected: Media error' }, 'contenterror', false, '5.6.0'],
  ['KDDI names a missing mailbox whatever the stage', { status: '5.0.0', diagnostic: '550 <k@ezweb.ne.jp>: User unknown', hosts: ['ezweb.ne.jp'] }, 'userunknown', true, '5.0.0'],
  ['the KDDI rule is KDDI\'s only', { status: '5.0.0', diagnostic: '550 <k@example.jp>: User unknown', hosts: ['example.jp'] }, 'filtered', false, '5.0.0'],
  // Provider code tables.
  ['Spectrum AUP code range', { status: '5.1.0', diagnostic: '550 5.1.0 <s@example.com> sender rejected. AUP#In-1310' }, 'toomanyconn', false, '5.1.0'],
  ['Orange OFR code', { status: '5.2.0', diagnostic: '550 5.2.0 Mail rejete. Mail rejected. OFR_506 [506]' }, 'spamdetected', false, '5.2.0'],
  ['Cox AUP code', { diagnostic: '554 5.7.1 192.0.2.1 rejected AUP#CXBL' }, 'blocked', false, '5.7.1'],
  ['GoDaddy IB code', { diagnostic: '550 5.2.0 <s@example.com> From: Domain is invalid. Please provide a valid From: IB506' }, 'rejected', false, '5.2.0'],
  ['relay refused without authentication', { diagnostic: '550-Please turn on SMTP Authentication in your mail client. 550 relay through this server without authentication.' }, 'securityerror', false, '5.7.0'],
  ['inner status code wins over the relay\'s summary', { diagnostic: "5.1.0 - Unknown address error 550-'5.2.2 <k@example.jp>... Mailbox Full'" }, 'mailboxfull', false, '5.2.2'],
];

t.test('classification table', async (t) => {
  for (const [what, input, reason, hard, status] of table) {
    const got = classify(rules, input);
    t.same({ reason: got.reason, hard: got.hard, status: got.status }, { reason, hard, status }, what);
  }
});

t.test('IP addresses and versions are not status codes', async (t) => {
  const got = classify(rules, { diagnostic: 'host 192.5.1.1 said: 550 mailbox unavailable (version 5.1.1a)' });
  t.equal(got.status, '5.1.1', 'status comes from the reason, not from the IP');
  t.equal(got.reason, 'userunknown');
});
