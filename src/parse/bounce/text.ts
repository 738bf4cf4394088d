/**
 * The human-readable part of a bounce: where the notice ends and the returned message
 * begins, which lines name a failed recipient, and which text belongs to each.
 *
 * Non-standard bounces (qmail, Exim, Exchange 2003, Gmail, Yahoo, Notes, ...) differ in
 * wording, not in shape: a paragraph of prose, then per recipient a line that is mostly an
 * address followed by the remote server's reply, then a copy of the message. The tables
 * below hold the markers of those shapes; one scanner applies them to every family.
 */
import { addressAt } from '../../address.js';
import { tick } from '../deadline.js';

/**
 * Where an address stands in a recipient line: bounded, and built of characters no
 * delimiter around it uses, so the patterns below cannot backtrack into it. The exact
 * address (left boundary, 64-octet local part, domain) is then read by address.ts at the
 * group's offset: the pattern finds the line's shape, never the address's extent.
 */
const A = String.raw`[^\s<>"'()\[\],;:@]{1,66}@[^\s<>"'()\[\],;:@]{1,255}`;

/**
 * Lines that start the copy of the returned message (or its headers). Everything from
 * here on is the original message, not the notice.
 */
const ORIGINAL_MARKERS: RegExp[] = [
  // qmail "--- Below this line is a copy of the message.", Exim "------ This is a copy of the
  // message, including all the headers. ------", Gmail "----- Original message -----",
  // Notes "------- Returned Message --------", GMX "--- The header of the original message is following. ---"
  /^\s*[-=*_]{2,}\s*(?:below this line is a copy|this is a copy|original message|the (?:header|headers) of the original|returned message|(?:the )?original (?:mail|message)|unsent message|undelivered message|message header|start of (?:returned|original)|returned mail|rfc822 header)/i,
  /^\s*(?:original message:?\s*$|original message follows|original mail as follows|included is a copy of the message header|the original message (?:was|is) (?:attached|below|as follows|follows)|a copy of the original message (?:is|was) (?:attached|below)|the first \d+ lines of (?:the|your) message|--- ?original message|bounced e-?mail:|headers? of (?:the )?(?:original|returned) message(?: follows)?:?\s*$|your message (?:reads|follows)|message follows:?\s*$)/i,
  /^content-type:\s*(?:message\/rfc822|text\/rfc822-headers)/i,
  // A header block of the returned message pasted without a marker.
  /^(?:Return-Path|Received|DKIM-Signature|X-Received|ARC-Seal|X-Google-Smtp-Source|Authentication-Results):/,
];

/**
 * Lines that name a failed recipient. Group 1 is the address; group 2, when present, is
 * the start of that recipient's diagnostic on the same line.
 */
const RECIPIENT_LINES: RegExp[] = [
  // "  kijitora@example.jp", "<kijitora@example.jp>", "\"kijitora@example.jp\":", "-- kijitora@…" (Exim, Gmail, GMX, Mimecast, Biglobe)
  new RegExp(String.raw`^\s*(?:-{1,2}\s*|\*\s*)?[<"']?(${A})[>"']?\s*:?\s*$`, 'd'),
  // "<kijitora@example.jp>: host mx said: 550 …" (qmail, Postfix prose, MXLogic)
  new RegExp(String.raw`^\s*[<"](${A})[>"]\s*[:.]\s*(.*)$`, 'd'),
  // ">>> kijitora@example.org <kijitora@example.org>" (sendmail-style transcripts); "<addr> (unrecoverable error)"
  new RegExp(String.raw`^\s*>>>\s*<?(${A})>?.*$`, 'd'),
  // "<kijitora@example.org> (unrecoverable error)", "kijitora@example.co.jp [User unknown]"
  new RegExp(String.raw`^\s*<?(${A})>?\s*([(\[].*[)\]]|\.\.\..*)\s*$`, 'd'),
  // "kijitora@example.co.jp on Thu, 29 Apr 2007 16:51:51 -0500" (Exchange 2003)
  new RegExp(String.raw`^\s*<?(${A})>?\s+on\s+\S.*\d.*$`, 'd'),
  // "kijitora@example.jp: 550 5.1.1 …", "kijitora@example.jp ... User unknown"
  new RegExp(String.raw`^\s*(${A})\s*(?::|\.\.\.)\s+(.*)$`, 'd'),
  // Prose prefixes: "Could not be delivered to: <…>", "Unable to deliver message to: <…>",
  // "RCPT TO: …", "Unknown user: …", "Failed recipient: …", "Recipient address: …"
  new RegExp(
    String.raw`^\s*(?:.*?\b(?:could not be delivered to|unable to deliver (?:the )?(?:message |mail )?to|delivery to(?: the following recipients?)? failed(?: permanently)?(?: for)?|failed (?:to deliver )?to|failed recipient|recipient(?: address| e-?mail)?|intended recipient|original recipient|rcpt to|unknown (?:user|recipient|address)|invalid (?:user|recipient|address)|user unknown|no such (?:user|mailbox)|addressed to|delivery failed for|delivering (?:your )?(?:mail|message) to|mailbox|destinatario|empfänger|destinataire|address(?:ee)?)\s*(?:address(?:es)?)?\s*[:=]?\s*)<?(${A})>?[:,.]?\s*(.*)$`,
    'di',
  ),
  // "Delivery failed 20 attempts: kijitora@example.com": a short label, a colon, an address
  // (quoted header fields of the returned message are not labels).
  new RegExp(String.raw`^\s*(?!(?:from|to|cc|bcc|reply-to|sender|return-path|subject|envelope-from|mail from)\s*:)[^:<>@]{0,40} [^:<>@]{1,40}:\s*<?(${A})>?\s*$`, 'di'),
  // Sendmail V5 transcripts: "554 <kijitora@example.edu>... Remote protocol error"
  new RegExp(String.raw`^\s*[45]\d\d[ -]<(${A})>\.\.\.\s*(.*)$`, 'd'),
  // "mikeneko@example.co.jp Invalid Address, ERROR_CODE :550" (Zoho): an address opens the line.
  new RegExp(String.raw`^\s*<?(${A})>?\s+(\S.*)$`, 'd'),
];

/** The pattern whose address follows a prose label. */
const PROSE = 6;

/** Patterns whose address is also accepted when it is the bounce's own To (self-addressed mail). */
const STRUCTURED = new Set([1, 2, 3, 4]);

/** A line that starts with a rule of three or more dashes, stars, equals (after blanks): decoration. */
function decoration(line: string): boolean {
  let i = 0;
  while (i < line.length && (line[i] === ' ' || line[i] === '\t')) i++;
  let n = 0;
  while (i + n < line.length && '-=*_#~'.includes(line[i + n])) n++;
  return n >= 3;
}

export interface NoticeRecipient {
  address: string;
  /** Text about this recipient: the rest of its line and the lines up to the next recipient. */
  segment: string;
}

/** The notice text with the returned message (and anything after it) cut off. */
export function cutOriginal(text: string): { notice: string; rest: string } {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    tick();
    const line = lines[i];
    if (line.length === 0) continue;
    for (const re of ORIGINAL_MARKERS) {
      if (re.test(line)) {
        return { notice: lines.slice(0, i).join('\n'), rest: lines.slice(i).join('\n') };
      }
    }
  }
  return { notice: text, rest: '' };
}

/**
 * Finds recipient lines in a notice. `exclude` holds addresses that are never recipients
 * here (the bounce's own To and From: the sender being told, the daemon telling).
 */
export function findNoticeRecipients(notice: string, exclude: Set<string>): NoticeRecipient[] {
  const lines = notice.split('\n');
  const hits: Array<{ line: number; address: string; tail: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    tick();
    const line = lines[i];
    if (line.indexOf('@') < 0 || line.length > 400) continue;
    for (const re of RECIPIENT_LINES) {
      const m = re.exec(line);
      if (!m) continue;
      const address = addressAt(line, m.indices?.[1]?.[0] ?? -1);
      if (!address || (exclude.has(address.toLowerCase()) && !STRUCTURED.has(RECIPIENT_LINES.indexOf(re)))) break;
      // A prose prefix ("550 unknown user <addr>", "Unknown user: addr") is part of the reason.
      const tail = RECIPIENT_LINES.indexOf(re) === PROSE ? line.trim() : (m[2] ?? '').trim();
      hits.push({ line: i, address, tail });
      break;
    }
  }
  const out: NoticeRecipient[] = [];
  for (let h = 0; h < hits.length; h++) {
    const end = h + 1 < hits.length ? hits[h + 1].line : lines.length;
    const body = lines
      .slice(hits[h].line + 1, end)
      .filter((l) => !decoration(l))
      .join('\n');
    const segment = (hits[h].tail + '\n' + body).trim();
    const seen = out.find((r) => r.address === hits[h].address);
    if (seen) {
      // The same address twice (a summary line, then the details): keep both texts.
      seen.segment = (seen.segment + '\n' + segment).trim();
      continue;
    }
    out.push({ address: hits[h].address, segment });
  }
  return out;
}

/** The paragraph of the notice around an address (for DSNs whose fields lack a diagnostic). */
export function segmentFor(recipients: NoticeRecipient[], address: string): string | null {
  const lower = address.toLowerCase();
  const r = recipients.find((x) => x.address.toLowerCase() === lower);
  return r ? r.segment : null;
}
