// Table-driven classification (config/bounce-rules.yaml through classify()). The rows are
// written from the documents the rules cite (RFC 3463, RFC 5321, RFC 7372, RFC 7505, the
// providers' published error references, the MTAs' message catalogues), not from corpus files.
import t from 'tap';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { classify, loadBounceRules } from '../../src/parse/bounce/index.js';
import { matchText, providerReason, TIERS } from '../../src/parse/bounce/rules.js';

const rules = loadBounceRules();
const RULES_FILE = new URL('../../config/bounce-rules.yaml', import.meta.url);

/** docs/contracts.md: the reason taxonomy. */
const TAXONOMY = new Set(
  'userunknown hostunknown hasmoved notaccept mailboxfull filtered rejected blocked spamdetected policyviolation securityerror authfailure requireptr expired networkerror systemerror systemfull suspend mesgtoobig exceedlimit toomanyconn speeding norelaying mailererror contenterror virusdetected syntaxerror notcompliantrfc badreputation failedstarttls onhold undefined delivered'.split(' '),
);
const allText = [...rules.providerPatterns, ...rules.patterns, ...rules.weakPatterns];

t.test('every rule cites a source, has a tier and a reason of the taxonomy', async (t) => {
  for (const r of allText) {
    t.ok(r.source.length > 10, `${r.name} cites its source`);
    t.ok(TIERS.includes(r.tier), `${r.name} has a tier`);
    t.ok(TAXONOMY.has(r.reason), `${r.name}: ${r.reason} is in the taxonomy`);
  }
  const codeReasons = [...rules.strongStatus.values(), ...rules.statusFallback.values(), ...rules.replyCodes.values(), ...rules.providerCodes.flatMap((p) => [...p.codes.values(), ...p.ranges.map((x) => x[2])])];
  for (const reason of codeReasons) t.ok(TAXONOMY.has(reason), `code table reason ${reason} is in the taxonomy`);
  t.equal(new Set(allText.map((r) => r.name)).size, allText.length, 'rule names are unique');
  // The YAML tables carry their source too (the compiler refuses a table without one).
  const raw = YAML.parse(readFileSync(RULES_FILE, 'utf8')) as Record<string, Array<{ source?: string }>>;
  for (const key of ['strong_status', 'status', 'reply_codes', 'provider_codes', 'header_verdicts', 'stages']) {
    for (const table of raw[key]) t.ok(table.source, `${key}: every table cites a source`);
  }
});

t.test('a rule without a source or with an unknown tier is refused', async (t) => {
  const { compileBounceRules } = await import('../../src/parse/bounce/rules.js');
  const base = { name: 'x', reason: 'blocked', example: 'x', match: ['x'] };
  t.throws(() => compileBounceRules({ patterns: [{ ...base, tier: 'generic' }] } as never), /must cite its source/);
  t.throws(() => compileBounceRules({ patterns: [{ ...base, tier: 'fitted', source: 'RFC 1' }] } as never), /tier must be one of/);
  t.throws(() => compileBounceRules({ status: [{ codes: { 'X.1.1': 'userunknown' } }] } as never), /needs a source/);
});

/**
 * Structural linear-time check of a pattern: no unbounded `.` (an unanchored `.*x` scan is
 * quadratic), no quantified group that holds a quantifier (nested quantifiers are the
 * classic exponential case), and no large bounded repeats.
 */
function superLinear(src: string): string | null {
  if (/(?<!\\)\.(?:[*+]|\{\d+,\})/.test(src)) return 'unbounded .';
  // Walk the groups: a group whose body holds an unbounded quantifier must not be quantified.
  const stack: Array<{ unbounded: boolean }> = [];
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push({ unbounded: false });
    else if (c === ')') {
      const g = stack.pop();
      const q = src.slice(i + 1).match(/^(?:[*+]|\{\d+(,\d*)?\})/);
      if (g?.unbounded && q) return 'nested quantifier';
      if (stack.length && (g?.unbounded || (q && !/^\{\d+(?:,\d+)?\}$/.test(q[0])))) stack[stack.length - 1].unbounded = true;
    } else if ((c === '*' || c === '+') && stack.length) stack[stack.length - 1].unbounded = true;
    else if (c === '{') {
      const m = src.slice(i).match(/^\{(\d+)(,(\d*))?\}/);
      if (m && m[2] !== undefined && m[3] === '' && stack.length) stack[stack.length - 1].unbounded = true;
      if (m && Number(m[3] || m[1]) > 100) return 'bounded repeat over 100';
    }
  }
  return null;
}

t.test('every regex of the rules is linear-time (structure) and fast on hostile input', async (t) => {
  t.equal(superLinear('(?:a+)+b'), 'nested quantifier', 'the checker catches nested quantifiers');
  t.equal(superLinear('your ip\\b.*\\bblocked'), 'unbounded .', 'the checker catches .* scans');
  t.equal(superLinear('mail from \\S+ rejected'), null, 'one unbounded class after a literal is linear');
  const raw = YAML.parse(readFileSync(RULES_FILE, 'utf8')) as unknown;
  const sources: Array<[string, string]> = [];
  const walk = (v: unknown, path: string): void => {
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
    else if (typeof v === 'string' && /\.(?:match\[\d+\]|code|hosts)$/.test(path)) sources.push([path, v]);
  };
  walk(raw, '');
  t.ok(sources.length > 300, `read the patterns (${sources.length})`);
  for (const [path, src] of sources) {
    const why = superLinear(src);
    if (why) t.fail(`${path}: ${why}: ${src}`);
  }
  // 200 kB of the shapes that make backtracking engines stall.
  const hostile = ['a'.repeat(200_000), ' '.repeat(200_000), 'mail from '.repeat(20_000), '<'.repeat(200_000), 'rcpt to:<'.repeat(20_000), 'x.'.repeat(100_000)];
  const t0 = performance.now();
  for (const h of hostile) classify(rules, { diagnostic: h });
  const ms = performance.now() - t0;
  t.ok(ms < 5000, `classify on 1.2 MB of hostile text: ${ms.toFixed(0)} ms`);
});

t.test('every text rule has an example that it matches', async (t) => {
  for (const r of allText) t.ok(r.re.test(r.example.replace(/\s+/g, ' ')), `${r.name}: ${r.example}`);
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

t.test('unscoped rule examples classify to their own reason', async (t) => {
  for (const r of allText) {
    if (r.hosts) continue;
    t.equal(matchText(rules, r.example.replace(/\s+/g, ' '))?.reason, r.reason, `${r.name}: ${r.example}`);
  }
});

type Input = { status?: string; replyCode?: string; diagnostic?: string; action?: string; hosts?: string[] };
type Row = [string, Input, string, boolean, string | null];

// [what, input, reason, hard, status]
const rfc: Row[] = [
  // RFC 3463: the enhanced code alone decides most reasons.
  ['X.1.1 bad destination mailbox', { status: '5.1.1' }, 'userunknown', true, '5.1.1'],
  ['X.1.2 bad destination system', { status: '5.1.2' }, 'hostunknown', true, '5.1.2'],
  ['X.1.6 moved, no forwarding address', { status: '5.1.6' }, 'hasmoved', true, '5.1.6'],
  ['X.2.1 mailbox disabled', { status: '5.2.1' }, 'suspend', false, '5.2.1'],
  ['X.2.2 mailbox full', { status: '5.2.2' }, 'mailboxfull', false, '5.2.2'],
  ['X.2.3 length exceeds administrative limit', { status: '5.2.3' }, 'exceedlimit', false, '5.2.3'],
  ['X.3.1 mail system full', { status: '4.3.1' }, 'systemfull', false, '4.3.1'],
  ['X.3.4 message too big', { status: '5.3.4' }, 'mesgtoobig', false, '5.3.4'],
  ['X.4.4 unable to route', { status: '5.4.4' }, 'hostunknown', true, '5.4.4'],
  ['X.4.6 routing loop', { status: '5.4.6' }, 'networkerror', false, '5.4.6'],
  ['X.4.7 delivery time expired', { status: '4.4.7' }, 'expired', false, '4.4.7'],
  ['X.5.3 too many recipients', { status: '4.5.3' }, 'toomanyconn', false, '4.5.3'],
  ['X.6.x media', { status: '5.6.1' }, 'contenterror', false, '5.6.1'],
  ['X.7.1 not authorized', { status: '5.7.1' }, 'rejected', false, '5.7.1'],
  ['X.7.10 encryption needed', { status: '5.7.10' }, 'failedstarttls', false, '5.7.10'],
  // RFC 7372
  ['X.7.13 user account disabled', { status: '5.7.13' }, 'suspend', false, '5.7.13'],
  ['X.7.23 SPF validation failed', { status: '5.7.23' }, 'authfailure', false, '5.7.23'],
  ['X.7.25 reverse DNS failed', { status: '5.7.25' }, 'requireptr', false, '5.7.25'],
  // RFC 7505
  ['X.1.10 recipient null MX, permanent: hard', { status: '5.1.10', diagnostic: '556 5.1.10 Recipient address has null MX' }, 'notaccept', true, '5.1.10'],
  ['X.7.27 sender null MX: sender-side, soft', { status: '5.7.27', diagnostic: '550 5.7.27 Sender address has null MX' }, 'rejected', false, '5.7.27'],
  ['X.7.27 alone: soft', { status: '5.7.27' }, 'rejected', false, '5.7.27'],
  ['sender null MX text without a code: soft', { diagnostic: '550 <s@example.org>: Sender address rejected: Domain example.org does not accept mail (nullMX)' }, 'rejected', false, null],
  // X.1.0: other address status, often about the sender: never hard on its own.
  ['X.1.0 alone: soft', { status: '5.1.0' }, 'rejected', false, '5.1.0'],
  ['X.1.0 with a sender refusal', { status: '5.1.0', diagnostic: '550 5.1.0 <s@example.com> sender rejected' }, 'rejected', false, '5.1.0'],
  ['X.1.0 with a missing recipient in words: the text decides', { status: '5.1.0', diagnostic: '550 5.1.0 <k@example.org>: Recipient address rejected: User unknown in local recipient table' }, 'userunknown', true, '5.1.0'],
  // RFC 5321 reply codes when nothing else is said.
  ['452 insufficient storage', { replyCode: '452', diagnostic: '452 Requested action not taken' }, 'mailboxfull', false, '4.2.2'],
  ['421 closing channel', { replyCode: '421', diagnostic: '421 Service not available, closing transmission channel' }, 'systemerror', false, '4.3.0'],
  ['550 with nothing else: onhold', { replyCode: '550', diagnostic: '550 Something odd happened' }, 'onhold', false, null],
  // Action
  ['delayed, nothing else said: expired', { action: 'delayed' }, 'expired', false, '4.4.7'],
  ['delivered', { status: '2.0.0', action: 'delivered' }, 'delivered', false, '2.0.0'],
  ['nothing at all', {}, 'undefined', false, null],
];

const providers: Row[] = [
  // Google, Gmail SMTP error reference
  ['Gmail 5.1.1 does not exist', { diagnostic: "550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's email address for typos" }, 'userunknown', true, '5.1.1'],
  ['Gmail 5.2.1 disabled', { diagnostic: '550-5.2.1 The email account that you tried to reach is disabled.' }, 'suspend', false, '5.2.1'],
  ['Gmail 4.2.2 over quota', { diagnostic: '452-4.2.2 The email account that you tried to reach is over quota.' }, 'mailboxfull', false, '4.2.2'],
  ['Gmail 4.2.1 receiving too quickly', { diagnostic: '450-4.2.1 The user you are trying to contact is receiving mail too quickly. Please resend your message at a later time.' }, 'speeding', false, '4.2.1'],
  ['Gmail 5.7.26 unauthenticated', { diagnostic: '550-5.7.26 This mail has been blocked because the sender is unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM.' }, 'authfailure', false, '5.7.26'],
  ['Gmail 4.7.0 fails authentication', { diagnostic: '421-4.7.0 This message does not have authentication information or fails to pass authentication checks (SPF or DKIM).' }, 'authfailure', false, '4.7.0'],
  ['Gmail 5.7.25 no PTR', { diagnostic: '550-5.7.25 The IP address sending this message does not have a PTR record setup' }, 'requireptr', false, '5.7.25'],
  ['Gmail 4.7.0 low reputation', { diagnostic: '421-4.7.0 Our system has detected that this message is suspicious due to the very low reputation of the sending domain.' }, 'badreputation', false, '4.7.0'],
  ['Gmail 5.7.1 unsolicited rate', { diagnostic: '550-5.7.1 Our system has detected an unusual rate of unsolicited mail originating from your IP address.' }, 'badreputation', false, '5.7.1'],
  ['Gmail 5.7.0 content security', { diagnostic: '552-5.7.0 This message was blocked because its content presents a potential security issue.' }, 'policyviolation', false, '5.7.0'],
  ['Gmail 5.7.1 policy', { diagnostic: '550-5.7.1 Email quota exceeded. Message not accepted for policy reasons.' }, 'policyviolation', false, '5.7.1'],
  ['Gmail 4.7.0 TLS required', { diagnostic: '421-4.7.0 TLS required for RCPT domain, closing connection.' }, 'failedstarttls', false, '4.7.0'],
  ['Gmail could not connect, gave up', { action: 'failed', diagnostic: 'The recipient server did not accept our requests to connect. Learn more at https://support.google.com/mail/answer/7720' }, 'expired', false, '5.4.7'],
  ['Gmail 5.7.1 multiple From addresses', { diagnostic: '550-5.7.1 Messages with multiple addresses in From: header are not accepted.' }, 'notcompliantrfc', false, '5.7.1'],
  // Microsoft, Exchange Online NDR reference
  ['Exchange Online 5.1.10 recipient not found', { diagnostic: '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup' }, 'userunknown', true, '5.1.10'],
  ['Exchange Online 5.4.1 directory-based edge blocking', { diagnostic: '550 5.4.1 Recipient address rejected: Access denied. AS(201806281)' }, 'userunknown', true, '5.4.1'],
  ['Exchange Online 5.7.1 not authorized (restricted recipient)', { diagnostic: '550 5.7.1 RESOLVER.RST.NotAuthorized; not authorized' }, 'filtered', false, '5.7.1'],
  ['Exchange Online 5.7.509 DMARC', { diagnostic: '550 5.7.509 Access denied, sending domain example.com does not pass DMARC verification and has a DMARC policy of reject.' }, 'authfailure', false, '5.7.509'],
  ['Exchange Online 5.7.606 banned IP', { diagnostic: '550 5.7.606 Access denied, banned sending IP [192.0.2.1].' }, 'blocked', false, '5.7.606'],
  ['Exchange Online 4.4.7 expired', { diagnostic: '550 4.4.7 QUEUE.Expired; message expired' }, 'expired', false, '4.4.7'],
  ['Exchange Online 5.2.3 recipient size limit', { diagnostic: '550 5.2.3 RESOLVER.RST.RecipSizeLimit; message too large for this recipient' }, 'exceedlimit', false, '5.2.3'],
  ['Outlook.com S3150 block list', { diagnostic: "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150)." }, 'blocked', false, '5.7.1'],
  ['Outlook.com mailbox unavailable', { diagnostic: '550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302).' }, 'userunknown', true, '5.5.0'],
  // Yahoo / AOL
  ['Yahoo dd no account', { diagnostic: "554 delivery error: dd This user doesn't have a yahoo.com account (k@yahoo.com) [0] - mta1061.mail.ne1.yahoo.com" }, 'userunknown', true, '5.1.1'],
  ['Yahoo dd disabled [#102]', { diagnostic: '554 delivery error: dd Sorry your message to k@yahoo.co.jp cannot be delivered. This account has been disabled or discontinued [#102].' }, 'suspend', false, '5.2.1'],
  ['Yahoo TSS04 deferred', { diagnostic: '421 4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1' }, 'badreputation', false, '4.7.0'],
  ['Yahoo BL21 Spamhaus', { diagnostic: "553 5.7.1 [BL21] Connections will not be accepted from 192.0.2.1, because the ip is in Spamhaus's list" }, 'blocked', false, '5.7.1'],
  ['AOL recipient accepts some senders only', { diagnostic: '550 5.7.1 : Recipient address rejected: because the recipient is only accepting mail from specific email addresses' }, 'filtered', false, '5.7.1'],
  // Apple iCloud
  ['iCloud host/domain does not accept mail', { diagnostic: '550 5.7.1 host/domain does not accept mail' }, 'notaccept', true, '5.7.1'],
  // Comcast, Cox, Spectrum, GoDaddy code tables
  ['Comcast BL000001 RBL', { diagnostic: '554 resimta.comcast.net 192.0.2.1 found on one or more RBLs. Refer to https://postmaster.comcast.net/smtp-error-codes.php#BL000001' }, 'blocked', false, null],
  ['Comcast RL000001 no rDNS', { diagnostic: '554 5.7.1 sender IP has no reverse DNS. Refer to https://postmaster.comcast.net/smtp-error-codes.php#RL000001' }, 'requireptr', false, '5.7.1'],
  ['Spectrum AUP code range: connection limits', { status: '5.1.0', diagnostic: '550 5.1.0 <s@example.com> sender rejected. AUP#In-1310' }, 'toomanyconn', false, '5.1.0'],
  ['Spectrum AUP 1530 size', { diagnostic: '552 5.3.4 Message too large. AUP#1530' }, 'mesgtoobig', false, '5.3.4'],
  ['Cox AUP#CXBL', { diagnostic: '554 5.7.1 192.0.2.1 rejected AUP#CXBL' }, 'blocked', false, '5.7.1'],
  ['Cox AUP#CXCNCT', { diagnostic: '421 4.7.0 192.0.2.1 too many connections AUP#CXCNCT' }, 'toomanyconn', false, '4.7.0'],
  ['GoDaddy IB506 invalid From domain', { diagnostic: '550 5.2.0 <s@example.com> From: Domain is invalid. Please provide a valid From: IB506' }, 'rejected', false, '5.2.0'],
  ['GoDaddy IB705 virus', { diagnostic: '552 5.7.0 This message has been rejected due to a virus IB705' }, 'virusdetected', false, '5.7.0'],
  // Orange
  ['Orange OFR_416 invalid recipient', { diagnostic: '550 5.1.1 <k@orange.fr>: Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]' }, 'userunknown', true, '5.1.1'],
  ['Orange OFR_417 full', { diagnostic: '552 5.1.1 <k@wanadoo.fr>: Boite du destinataire pleine. Recipient overquota. OFR_417 [417]' }, 'mailboxfull', false, '5.1.1'],
  ['Orange OFR_506 spam', { status: '5.2.0', diagnostic: '550 5.2.0 Mail rejete. Mail rejected. OFR_506 [506]' }, 'spamdetected', false, '5.2.0'],
  // Mail.ru, Yandex
  ['Mail.ru invalid mailbox', { diagnostic: '550 Message was not accepted -- invalid mailbox.  Local mailbox k@mail.ru is unavailable: user not found' }, 'userunknown', true, '5.1.1'],
  ['Yandex no such user', { diagnostic: '550 5.7.1 No such user!' }, 'userunknown', true, '5.7.1'],
  // KDDI au
  ['KDDI: a filter answers with an empty address', { status: '5.0.0', diagnostic: '550 : User unknown (in reply to RCPT TO command)' }, 'filtered', false, '5.0.0'],
  ['KDDI names a missing mailbox whatever the stage', { status: '5.0.0', diagnostic: '550 <k@ezweb.ne.jp>: User unknown', hosts: ['ezweb.ne.jp'] }, 'userunknown', true, '5.0.0'],
  ['the KDDI rule is KDDI\'s only', { status: '5.0.0', diagnostic: '550 <k@example.jp>: User unknown', hosts: ['example.jp'] }, 'filtered', false, '5.0.0'],
];

const mtas: Row[] = [
  // Postfix
  ['Postfix user unknown at RCPT', { diagnostic: 'host mx.example.jp[192.0.2.1] said: 550 5.1.1 <k@example.jp>: Recipient address rejected: User unknown in local recipient table (in reply to RCPT TO command)' }, 'userunknown', true, '5.1.1'],
  ['Postfix relay access denied', { diagnostic: '554 5.7.1 <k@example.net>: Relay access denied' }, 'norelaying', false, '5.7.1'],
  ['Postfix RBL', { diagnostic: '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org' }, 'blocked', false, '5.7.1'],
  ['Postfix lost connection', { diagnostic: 'lost connection with mx.example.com[192.0.2.1] while receiving the initial server greeting' }, 'networkerror', false, '5.4.0'],
  ['Postfix temporary DNS', { diagnostic: 'Name service error for domain example.com: Host not found, try again', action: 'failed' }, 'networkerror', false, '5.4.0'],
  ['Postfix reason after the colon', { status: '5.6.0', diagnostic: '550 5.6.0 <k@example.net>: Recipient address rejected: Media error' }, 'contenterror', false, '5.6.0'],
  ['Postfix bare "Recipient address rejected" at RCPT', { diagnostic: '550 <k@example.jp>: Recipient address rejected. (in reply to RCPT TO command)' }, 'userunknown', true, '5.1.1'],
  ['Postfix: user unknown after DATA is a filter', { diagnostic: 'host mx.example.jp[192.0.2.22] said: 550 User unknown (in reply to end of DATA command)' }, 'filtered', false, null],
  ['Postfix after a failed 4.4.1 retry: expired', { status: '4.4.1', action: 'failed', diagnostic: 'connect to example.org[192.0.2.1]:25: Connection timed out' }, 'expired', false, '4.4.1'],
  // Exim
  ['Exim retry timeout', { diagnostic: 'retry timeout exceeded' }, 'expired', false, '5.4.7'],
  ['Exim mailbox full then retry timeout: the cause wins', { diagnostic: 'save to /var/mail/k generated by k@example.org mailbox is full: retry timeout exceeded' }, 'mailboxfull', false, '5.2.2'],
  ['Exim sender verify failed', { diagnostic: '550 Sender verify failed' }, 'rejected', false, null],
  ['Exim refused at connection', { diagnostic: 'SMTP error from remote mail server after initial connection: 554 Access denied' }, 'blocked', false, null],
  ['Exim relay without authentication', { diagnostic: '550-Please turn on SMTP Authentication in your mail client. 550 relay through this server without authentication.' }, 'securityerror', false, '5.7.0'],
  // Sendmail
  ['Sendmail user unknown', { diagnostic: '550 5.1.1 <k@example.jp>... User Unknown' }, 'userunknown', true, '5.1.1'],
  ['Sendmail host unknown', { diagnostic: '550 5.1.2 <k@invalid.example>... Host unknown (Name server: invalid.example: host not found)' }, 'hostunknown', true, '5.1.2'],
  ['Sendmail domain of sender', { diagnostic: '553 5.1.8 <s@example.org>... Domain of sender address s@example.org does not exist' }, 'rejected', false, '5.1.8'],
  ['Sendmail too many sessions', { diagnostic: '421 4.7.0 Too many SMTP sessions for this host' }, 'toomanyconn', false, '4.7.0'],
  ['Sendmail mailer error', { diagnostic: 'X-Unix; 255' }, 'mailererror', false, null],
  // qmail
  ['qmail no mailbox', { diagnostic: 'Sorry, no mailbox here by that name. (#5.1.1)' }, 'userunknown', true, '5.1.1'],
  ['qmail over quota beats its 5.1.1', { status: '5.1.1', diagnostic: '552 sorry, mailbox k@example.org is over quota temporarily (#5.1.1)' }, 'mailboxfull', false, '5.1.1'],
  // Domino, Exchange 2003
  ['Domino not listed', { diagnostic: 'User k@example.com not listed in Domino Directory' }, 'userunknown', true, '5.1.1'],
  ['relay wrapping the remote reply: the inner code wins', { diagnostic: "5.1.0 - Unknown address error 550-'5.2.2 <k@example.jp>... Mailbox Full'" }, 'mailboxfull', false, '5.2.2'],
  ['continuation prefixes do not split a sentence', { diagnostic: '550-5.7.1 [192.0.2.1] Messages with multiple 550-5.7.1 addresses in From: header are not accepted.' }, 'notcompliantrfc', false, '5.7.1'],
  // Generic wording needs a recipient status or the RCPT stage.
  ['user unknown, stage unknown, no X.1.x status: a filter', { status: '5.0.0', diagnostic: '550 Unknown user k@example.jp' }, 'filtered', false, '5.0.0'],
  ['user unknown with a mailbox status at RCPT', { status: '5.2.1', diagnostic: '550 5.2.1 <k@example.jp>... User Unknown [RCPT_TO]' }, 'userunknown', true, '5.2.1'],
];

t.test('classification tables: RFCs, providers, MTA catalogues', async (t) => {
  for (const [group, rows] of [['RFC', rfc], ['provider', providers], ['MTA', mtas]] as const) {
    for (const [what, input, reason, hard, status] of rows) {
      const got = classify(rules, input);
      t.same({ reason: got.reason, hard: got.hard, status: got.status }, { reason, hard, status }, `${group}: ${what} (${got.rule})`);
    }
  }
});

t.test('precedence: provider words > precise code > MTA text > generic text > code class > reply code', async (t) => {
  // A provider's text beats a precise status it is sent with.
  t.equal(classify(rules, { status: '5.2.2', diagnostic: '552 5.2.2 RESOLVER.ADR.RecipientNotFound; not found (in reply to RCPT TO command)' }).rule, 'text:microsoft-userunknown');
  // A precise code beats generic words.
  t.equal(classify(rules, { status: '5.2.2', diagnostic: '552 5.2.2 message rejected, user unknown' }).reason, 'mailboxfull');
  // An MTA catalogue sentence beats a generic phrase in the same text.
  t.equal(classify(rules, { diagnostic: 'Sorry, no mailbox here by that name; connection timed out' }).reason, 'userunknown');
  // Words beat the code's class.
  t.equal(classify(rules, { status: '5.7.1', diagnostic: '550 5.7.1 Client host blocked using bl.spamcop.net' }).reason, 'blocked');
  // The code's class beats the reply code.
  t.equal(classify(rules, { status: '5.7.1', replyCode: '452', diagnostic: '452 5.7.1 hmm' }).reason, 'rejected');
  // onhold only when nothing decides.
  const undecided = classify(rules, { replyCode: '550', diagnostic: '550 Message refused' });
  t.same([undecided.reason, undecided.rule], ['onhold', 'reply:550']);
});

t.test('hard only for userunknown, hostunknown, hasmoved, and notaccept with a 5xx', async (t) => {
  t.same([...rules.hardReasons].sort(), ['hasmoved', 'hostunknown', 'userunknown']);
  t.same([...rules.hardIfPermanent], ['notaccept']);
  const HARD = new Set(['userunknown', 'hostunknown', 'hasmoved']);
  // Every example line, every status code of the tables, in both classes and with each reply code.
  const inputs: Input[] = [];
  for (const r of allText) inputs.push({ diagnostic: r.example });
  for (const key of [...rules.strongStatus.keys(), ...rules.statusFallback.keys()]) {
    const detail = key.split('.').slice(1).join('.') + (key.split('.').length === 2 ? '.0' : '');
    for (const cls of ['4', '5']) inputs.push({ status: `${cls}.${detail}` });
  }
  for (const code of rules.replyCodes.keys()) inputs.push({ replyCode: code, diagnostic: `${code} whatever` });
  for (const input of inputs) {
    const got = classify(rules, input);
    const temporary = got.status?.startsWith('4.') || input.replyCode?.startsWith('4');
    const expected = HARD.has(got.reason) || (got.reason === 'notaccept' && !temporary);
    if (got.hard !== expected) t.fail(`${JSON.stringify(input)} → ${got.reason} hard=${got.hard}`);
  }
  t.ok(inputs.length > 150, `${inputs.length} inputs checked`);
  // A temporary null-MX refusal is soft; the sender's null MX is never hard.
  t.equal(classify(rules, { replyCode: '421', diagnostic: '421 This domain does not accept mail' }).hard, false);
  t.equal(classify(rules, { status: '5.7.27', diagnostic: '550 5.7.27 Sender address has null MX' }).hard, false);
});

t.test('IP addresses and versions are not status codes', async (t) => {
  const got = classify(rules, { diagnostic: 'host 192.5.1.1 said: 550 mailbox unavailable (version 5.1.1a)' });
  t.equal(got.status, '5.1.1', 'status comes from the reason, not from the IP');
  t.equal(got.reason, 'userunknown');
});
