/**
 * What a free-form abuse report says (mail to abuse@): where the offending message is —
 * attached, forwarded inline by a mail client, pasted as raw headers, or not there at
 * all —, its header fields, the mobile numbers of an SMS complaint, whether the report
 * uses phishing language, and the domains the original's headers name. Pure.
 *
 * The heuristics are deliberately generic: a forward is found by the separator lines and
 * header labels the common clients write (in the languages listed in the tables below),
 * not by recognising any particular message.
 */
import { type CountryCode, type PhoneNumber, findPhoneNumbersInText, isSupportedCountry, parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { canReceiveSms as keep, senderIdIn } from '../phone.js';
import { addressesIn, firstAddress } from './arf.js';
import { htmlToText } from './html.js';
import { HeaderList, type MimePart, decodeTransfer, parseHeaderBlock, parseMime, partText, utf8Binary as binary } from './mime.js';
import { tick } from './deadline.js';

export type OriginalFound = 'attached' | 'inline' | 'headers-only' | 'none';

/** Text read for analysis, per source: plenty for any complaint, bounded for hostile input. */
const MAX_TEXT = 256 * 1024;
/** Phone numbers are looked for in the first part of the reporter's text only. */
const MAX_PHONE_TEXT = 16 * 1024;
/** Candidates tried per text (libphonenumber's maxTries, and our second pass): bounds digit soup. */
const MAX_PHONE_TRIES = 100;
/** Nested forwards followed (a colleague's forward of the spam). */
const MAX_NESTING = 3;

const ENCLOSED = new Set(['message/rfc822', 'message/global', 'text/rfc822-headers', 'text/rfc822-header']);

// ---------------------------------------------------------------------------------------
// Text

/** Lower case without diacritics, typographic apostrophes as ASCII: for matching labels and phrases. */
export function fold(s: string): string {
  // eslint-disable-next-line no-control-regex
  if (!/[^\x00-\x7f]/.test(s)) return s.toLowerCase();
  return s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[\u2018\u2019\u02bc]/g, "'")
    .toLowerCase();
}

function leafText(p: MimePart): string | null {
  if (p.type === 'text/plain' || p.type === 'text/enriched') return partText(p);
  if (p.type === 'text/html') return htmlToText(partText(p));
  return null;
}

/**
 * The readable text of a message: its text leaves (plain preferred over HTML in an
 * alternative), enclosed messages included only when `enclosed` is true. Bounded.
 */
export function readableText(part: MimePart, enclosed: boolean): string {
  const out: string[] = [];
  let size = 0;
  const visit = (p: MimePart, top: boolean): void => {
    if (size >= MAX_TEXT) return;
    if (!top && ENCLOSED.has(p.type)) {
      if (enclosed) for (const c of p.children) visit(c, false);
      return;
    }
    if (p.children.length === 0) {
      const t = leafText(p);
      if (t) {
        out.push(t);
        size += t.length;
      }
      return;
    }
    if (p.type === 'multipart/alternative') {
      const plain = p.children.find((c) => c.type === 'text/plain' && c.rawBody.trim() !== '');
      visit(plain ?? p.children.find((c) => c.type !== 'text/plain') ?? p.children[0], false);
      return;
    }
    for (const c of p.children) visit(c, false);
  };
  visit(part, true);
  const s = out.join('\n');
  return s.length > MAX_TEXT ? s.slice(0, MAX_TEXT) : s;
}

// ---------------------------------------------------------------------------------------
// Inline forwards

/** The line a client writes above a forwarded or quoted message, folded (see fold). */
const FORWARD_PHRASES = [
  // en: Gmail, Outlook, Yahoo, Thunderbird, Apple Mail
  'forwarded message', 'forwarded e-?mail', 'forwarded mail', 'original message', 'begin forwarded message',
  // de
  'weitergeleitete nachricht', 'ursprungliche nachricht', 'originalnachricht', 'anfang der weitergeleiteten nachricht', 'weitergeleitete e-?mail',
  // fr
  'message transfere', "message d'origine", 'message original', 'debut du message reexpedie', 'debut du message transfere', 'courriel transfere', 'message reexpedie',
  // es
  'mensaje reenviado', 'mensaje original', 'inicio del mensaje reenviado', 'correo reenviado',
  // it, nl, pt, pl, nordic
  'messaggio inoltrato', 'messaggio originale', 'inizio messaggio inoltrato', 'doorgestuurd bericht', 'oorspronkelijk bericht', 'begin doorgestuurd bericht',
  'mensagem encaminhada', 'mensagem original', 'inicio da mensagem reencaminhada', 'mensagem reencaminhada', 'przekazana wiadomosc', 'oryginalna wiadomosc',
  'wiadomosc oryginalna', 'vidarebefordrat meddelande', 'ursprungligt meddelande', 'videresendt meddelelse', 'oprindelig meddelelse', 'videresendt melding',
  'opprinnelig melding',
];
const SEPARATOR = new RegExp(String.raw`^[\s>*_=~\-\u2013\u2014]*(?:${FORWARD_PHRASES.join('|')})[\s*_=~:\-\u2013\u2014]*$`);

/** Header labels of forward blocks, folded → the field they stand for. */
const LABELS: Record<string, string> = {};
for (const [field, labels] of Object.entries({
  from: ['from', 'von', 'de', 'expediteur', 'envoye par', 'remitente', 'da', 'van', 'od', 'fran', 'fra', 'afzender', 'mittente', 'absender'],
  date: ['date', 'sent', 'datum', 'gesendet', 'envoye', 'envoye le', 'fecha', 'enviado', 'enviado el', 'enviada', 'data', 'inviato', 'verzonden', 'wyslano', 'skickat', 'sendt', 'verstuurd'],
  to: ['to', 'an', 'a', 'pour', 'para', 'aan', 'til', 'till', 'do', 'destinataire', 'destinatario', 'destinatarios', 'empfanger'],
  cc: ['cc', 'kopie', 'copie', 'copie a', 'dw'],
  subject: ['subject', 'betreff', 'objet', 'sujet', 'asunto', 'oggetto', 'onderwerp', 'assunto', 'temat', 'amne', 'emne'],
  'reply-to': ['reply-to', 'antwort an', 'repondre a', 'responder a'],
  'message-id': ['message-id'],
})) {
  for (const l of labels) LABELS[l] = field;
}

const LABEL_LINE = /^[ \t]*\*{0,2}([^\s:*<>][^:*<>\n]{0,24}?)[ \t]*\*{0,2}[ \t]*:(?:[ \t]|$)[ \t]*\*{0,2}[ \t]*(.*)$/;
const RAW_FIELD = /^([!-9;-~]+)[ \t]*:(.*)$/;
/** Fields only a real message header block has (as opposed to a client's forward block). */
const TECHNICAL = /^(?:received|return-path|message-id|dkim-signature|authentication-results|arc-[a-z-]+|mime-version|content-type|delivered-to|list-unsubscribe|list-id|feedback-id|received-spf|x-[a-z0-9-]+)$/;
const MESSAGE_FIELDS = /^(?:from|sender|to|cc|subject|date|reply-to|received|return-path|message-id|dkim-signature|mime-version|content-type|list-unsubscribe|in-reply-to|references)$/;

interface Block {
  kind: 'raw' | 'display';
  /** Index of the first and one past the last line. */
  start: number;
  end: number;
  headers: HeaderList;
  /** A separator line directly above. */
  separated: boolean;
}

function labelOf(line: string): { field: string; value: string } | null {
  const m = LABEL_LINE.exec(line);
  if (!m) return null;
  const field = LABELS[fold(m[1]).trim()];
  let value = m[2];
  let end = value.length;
  while (end > 0 && value.charCodeAt(end - 1) === 42) end--; // Outlook's bold markers: "**"
  value = value.slice(0, end);
  return field ? { field, value: value.trim() } : null;
}

/** "Name [mailto:a@b]" (Outlook's plain text) → "Name <a@b>". */
function cleanValue(v: string): string {
  // An address has no '[' and is at most 320 octets: the bound keeps the scan linear.
  return v.replace(/\[mailto:([^[\]\s]{1,320})\]/gi, '<$1>').trim();
}

/**
 * Outlook on some devices writes "From: A Sent: B To: C Subject: D" on one line: split a
 * line that starts with a From label and holds two more labels.
 */
function splitRunOn(line: string): string[] {
  const first = labelOf(line);
  if (!first || first.field !== 'from') return [line];
  const cuts: number[] = [];
  const re = /\s(\*{0,2}[\p{L}][\p{L}-]{0,14}\*{0,2})[ \t]*:\s/gu;
  for (const m of line.matchAll(re)) {
    if (LABELS[fold(m[1].replace(/\*/g, '')).trim()]) cuts.push(m.index! + 1);
  }
  if (cuts.length < 2) return [line];
  const parts: string[] = [];
  let at = 0;
  for (const c of cuts) {
    parts.push(line.slice(at, c).trimEnd());
    at = c;
  }
  parts.push(line.slice(at));
  return parts;
}

/** Lines with quote markers ("> ") removed and run-on Outlook blocks split. */
function lines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.replace(/\r\n?/g, '\n').replace(/\u00a0/g, ' ').split('\n')) {
    const l = raw.replace(/^(?:[ \t]*>)+[ \t]?/, '');
    if (l.length > 20 && l.length < 1000) out.push(...splitRunOn(l));
    else out.push(l);
  }
  return out;
}

/** Header blocks in the text: runs of field lines, classified as raw headers or a forward block. */
function blocks(ls: string[]): Block[] {
  const found: Block[] = [];
  let separated = false;
  let i = 0;
  while (i < ls.length && found.length < 20) {
    tick();
    const line = ls[i];
    if (SEPARATOR.test(fold(line))) {
      separated = true;
      i++;
      continue;
    }
    if (line.trim() === '') {
      i++;
      continue;
    }
    if (!RAW_FIELD.test(line) && !labelOf(line)) {
      // A rule line (Outlook's ____) may sit between the separator and the block.
      if (!/^[\s_\-=]{8,}$/.test(line)) separated = false;
      i++;
      continue;
    }
    const { found: b, end } = block(ls, i, separated);
    if (b) found.push(b);
    separated = false;
    i = Math.max(i + 1, end);
  }
  return found;
}

/** The run of field lines from `start`: a block when it reads as one; `end` either way. */
function block(ls: string[], start: number, separated: boolean): { found: Block | null; end: number } {
  const raw: string[] = [];
  const display: Array<[string, string]> = [];
  let onlyLabels = true;
  let lastWasLabel = false;
  let j = start;
  while (j < ls.length) {
    tick();
    const line = ls[j];
    const label = labelOf(line);
    if (label || RAW_FIELD.test(line)) {
      raw.push(line);
      if (label) display.push([label.field, cleanValue(label.value)]);
      else onlyLabels = false;
      lastWasLabel = !!label;
      j++;
      continue;
    }
    if (/^[ \t]+\S/.test(line) && raw.length > 0) {
      // folded continuation (RFC 5322 §2.2.3)
      raw.push(line);
      if (lastWasLabel) display[display.length - 1][1] += ' ' + line.trim();
      j++;
      continue;
    }
    if (line.trim() === '') {
      // Clients that render each field in its own paragraph (Apple Mail, HTML forwards):
      // the block goes on when the next non-blank line is a label not seen yet.
      let k = j + 1;
      while (k < ls.length && k - j <= 2 && ls[k].trim() === '') k++;
      const next = k < ls.length ? labelOf(ls[k]) : null;
      if (next && onlyLabels && display.length > 0 && !display.some(([f]) => f === next.field)) {
        j = k;
        continue;
      }
      break;
    }
    // A wrapped address list (Outlook does not indent the rest of a long To: line).
    const last = display[display.length - 1];
    if (lastWasLabel && onlyLabels && (last[0] === 'to' || last[0] === 'cc') && /@/.test(line) && !/:/.test(line)) {
      last[1] += ' ' + line.trim();
      j++;
      continue;
    }
    break;
  }
  const names = raw.map((l) => RAW_FIELD.exec(l)?.[1].toLowerCase() ?? '');
  const technical = names.some((n) => TECHNICAL.test(n));
  const messageFields = names.filter((n) => MESSAGE_FIELDS.test(n)).length;
  const anchored = names.some((n) => /^(?:from|received|return-path|message-id|dkim-signature)$/.test(n));
  if (technical && anchored && messageFields >= 2) {
    return { found: { kind: 'raw', start, end: j, headers: parseHeaderBlock(binary(raw.join('\n'))), separated }, end: j };
  }
  const fields = new Set(display.map(([f]) => f));
  const enough = separated
    ? fields.has('from') || (fields.has('subject') && fields.size >= 2)
    : fields.has('from') && fields.has('subject') && (fields.has('date') || fields.has('to'));
  if (!enough) return { found: null, end: j };
  return { found: { kind: 'display', start, end: j, headers: new HeaderList(display.map(([f, v]) => [f, binary(v)])), separated }, end: j };
}

export interface InlineOriginal {
  headers: HeaderList;
  /** The text after the header block: the forwarded message's body. */
  body: string;
  /** The text before it: the reporter's own words. */
  before: string;
  found: 'inline' | 'headers-only';
}

/**
 * A message forwarded inline or pasted into `text`: pasted raw headers first (they carry
 * the most: Received, DKIM, the token header), else a client's forward block. A forward
 * block sent from the reporter's own domain with another one after it is a colleague's
 * forward of the spam: the inner one is taken.
 */
export function inlineOriginal(text: string, reporterDomain: string | null = null): InlineOriginal | null {
  const ls = lines(text.length > MAX_TEXT ? text.slice(0, MAX_TEXT) : text);
  const all = blocks(ls);
  if (all.length === 0) return null;
  const raw = all.find((b) => b.kind === 'raw');
  let chosen: Block | undefined = raw;
  if (!chosen) {
    const shown = all.filter((b) => b.kind === 'display');
    let k = 0;
    while (k < shown.length - 1 && reporterDomain && domainOf(firstAddress(shown[k].headers.get('from'))) === reporterDomain) k++;
    chosen = shown[k];
  }
  if (!chosen) return null;
  const body = ls.slice(chosen.end).join('\n').replace(/^\n+/, '');
  const found = chosen.kind === 'raw' && !chosen.separated && body.trim() === '' ? 'headers-only' : 'inline';
  return { headers: chosen.headers, body, before: ls.slice(0, all[0].start).join('\n'), found };
}

// ---------------------------------------------------------------------------------------
// The original of a report

export interface LocatedOriginal {
  headers: HeaderList | null;
  /** Readable text of the original (its body), for phishing language. */
  text: string;
  found: OriginalFound;
  /** The reporter's own words: the text outside the original. */
  words: string;
}

/**
 * The offending message: an attached message (message/rfc822, a headers-only part, or an
 * .eml attachment), else one forwarded inline or pasted in the reporter's text.
 */
export function locateOriginal(root: MimePart, ownText: string, reporterDomain: string | null, depth = 0): LocatedOriginal {
  const attached = attachedMessage(root);
  if (attached) {
    const inner = attached.part;
    const headersOnly = attached.headersOnly || (inner.children.length === 0 && inner.rawBody.trim() === '');
    const text = headersOnly ? '' : readableText(inner, false);
    // A colleague's forward of the spam, attached: look inside it.
    if (depth < MAX_NESTING && reporterDomain && domainOf(firstAddress(inner.headers.get('from'))) === reporterDomain) {
      const deeper = locateOriginal(inner, text, reporterDomain, depth + 1);
      if (deeper.found !== 'none') return { ...deeper, words: ownText + '\n' + deeper.words };
    }
    return { headers: inner.headers, text, found: headersOnly ? 'headers-only' : 'attached', words: ownText };
  }
  const inline = inlineOriginal(ownText, reporterDomain);
  if (inline) return { headers: inline.headers, text: inline.body, found: inline.found, words: inline.before };
  return { headers: null, text: '', found: 'none', words: ownText };
}

function attachedMessage(root: MimePart): { part: MimePart; headersOnly: boolean } | null {
  const queue: MimePart[] = [root];
  let eml: MimePart | null = null;
  while (queue.length > 0) {
    const p = queue.shift()!;
    if (p !== root && ENCLOSED.has(p.type) && p.children[0]) return { part: p.children[0], headersOnly: p.type.startsWith('text/') };
    if (p !== root && p.children.length === 0 && !eml && isEmlAttachment(p)) eml = p;
    if (p === root || !ENCLOSED.has(p.type)) queue.push(...p.children);
  }
  if (!eml) return null;
  // An .eml sent as application/octet-stream (or text/plain) by clients that do not label it.
  try {
    const inner = parseMime(decodeTransfer(eml.rawBody, eml.headers.get('content-transfer-encoding')));
    return inner.headers.has('from') || inner.headers.has('received') ? { part: inner, headersOnly: false } : null;
  } catch {
    return null;
  }
}

function isEmlAttachment(p: MimePart): boolean {
  const name = p.params.name ?? /filename\*?=(?:"([^"]*)"|([^;\s]+))/i.exec(p.headers.get('content-disposition') ?? '')?.slice(1).find(Boolean) ?? '';
  return /\.eml"?$/i.test(name.trim());
}

// ---------------------------------------------------------------------------------------
// Phone numbers

const SMS_WORDS = /\b(?:sms|mms|text(?:ed|ing)?\s+(?:me|message|messages|msg)|text\s+to\s+my|texts|texted|texting|txts?|imessage|short\s*code|mensajes?\s+de\s+texto|textos?|textnachricht(?:en)?|kurznachricht(?:en)?|message\s+texte|sms-?nachricht(?:en)?)\b/;
/** Words just before a number that make it the sender's, not the complainant's. */
const SENDER_CONTEXT = /(?:\bfrom|\bsender|\bsent\s+by|\bsender\s+id|\bcaller(?:\s+id)?|\bvon|\babsender|\bexpediteur|\bremitente|\bde\s+la\s+part\s+de)(?:\s+(?:the\s+)?(?:number|no\.?|nummer|numero))?\s*[:=\-]?\s*$/;

/** Whether the text is about an SMS (or MMS, a "text message"). */
export function aboutSms(text: string): boolean {
  return SMS_WORDS.test(fold(text.length > MAX_PHONE_TEXT ? text.slice(0, MAX_PHONE_TEXT) : text));
}

const CANDIDATE = /(?<![\w+/.=-])(\+?\(?\d[\d \t().\-]{5,22}\d)(?![\w/@]|[.,]\d)/g;

/**
 * Mobile numbers the text names, E.164, deduplicated, in order; national forms read in
 * `region` (ISO 3166 alpha-2). Landlines, toll-free and short codes are left out, and so
 * is a number introduced as the sender ("from +61 4…", "Sender: …").
 */
export function mobileNumbers(text: string, region = 'US'): string[] {
  const src = text.length > MAX_PHONE_TEXT ? text.slice(0, MAX_PHONE_TEXT) : text;
  const country = isSupportedCountry(region.toUpperCase()) ? (region.toUpperCase() as CountryCode) : undefined;
  const out: string[] = [];
  const taken: Array<[number, number]> = [];
  const consider = (p: PhoneNumber | undefined, start: number, end: number): void => {
    taken.push([start, end]);
    if (!p || !keep(p)) return;
    const lineStart = src.lastIndexOf('\n', start - 1) + 1;
    if (SENDER_CONTEXT.test(fold(src.slice(Math.max(lineStart, start - 40), start)))) return;
    if (!out.includes(p.number)) out.push(p.number);
  };
  let found: ReturnType<typeof findPhoneNumbersInText> = [];
  try {
    // maxTries is PhoneNumberMatcher's documented option; the typings of this entry point omit it.
    const options = { defaultCountry: country, maxTries: MAX_PHONE_TRIES } as { defaultCountry?: CountryCode };
    found = findPhoneNumbersInText(src, options);
  } catch {
    found = [];
  }
  for (const f of found) consider(f.number, f.startsAt, f.endsAt);
  // Second pass for what the finder leaves out because the metadata calls it invalid.
  let tries = 0;
  for (const m of src.matchAll(CANDIDATE)) {
    if (++tries > MAX_PHONE_TRIES) break;
    const start = m.index!;
    const end = start + m[1].length;
    if (taken.some(([a, b]) => start < b && a < end)) continue;
    const digits = m[1].replace(/\D/g, '');
    if (digits.length < 8 || digits.length > 15 || /^\d{1,3}(?:\.\d{1,3}){3}$/.test(m[1].trim())) continue;
    let p: PhoneNumber | undefined;
    try {
      p = parsePhoneNumberFromString(m[1], country);
    } catch {
      p = undefined;
    }
    if (p && !p.isValid()) consider(p, start, end);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Phishing language

interface Term {
  term: string;
  /** Strong terms decide on their own; weak ones need two more beside them. */
  strong: boolean;
  re: RegExp;
}

const WEAK_TERMS_NEEDED = 3;

/** Matched against folded text (lower case, no diacritics). */
const PHISHING_TERMS: Term[] = [
  { term: 'phishing', strong: true, re: /\b(?:phish(?:ing|ed|er|y)?|hameconnage|suplantacion de identidad)\b/ },
  { term: 'verify your account', strong: true, re: /\b(?:verify|confirm|validate|re-?activate|unlock|restore|update)\s+your\s+(?:account|identity|mailbox|e-?mail(?:\s+account)?|credentials|login|profile)\b|\b(?:bestatigen|verifizieren|aktualisieren)\s+sie\s+ihre?\s+(?:konto|identitat|zugangsdaten|daten)\b|\b(?:konto|account)\s+(?:verifizieren|bestatigen)\b|\b(?:verifiez|confirmez|validez|mettez a jour)\s+votre\s+(?:compte|identite)\b|\b(?:verifique|verifica|confirme|confirma|actualice|actualiza|valide|valida)\s+(?:su|tu)\s+(?:cuenta|identidad)\b/ },
  { term: 'suspended account', strong: true, re: /\b(?:account|mailbox)\s+(?:has\s+been|was|is|will\s+be)\s+(?:temporarily\s+|permanently\s+)?(?:suspended|locked|disabled|deactivated|limited|restricted|closed|blocked|on\s+hold)\b|\b(?:suspended|locked|restricted)\s+account\b|\bihr\s+(?:konto|account)\s+(?:wurde|wird|ist)\s+(?:vorubergehend\s+)?(?:gesperrt|eingeschrankt|deaktiviert)|\bvotre\s+compte\s+(?:a\s+ete|sera|est)\s+(?:temporairement\s+)?(?:suspendu|bloque|desactive|restreint)|\b(?:su|tu)\s+cuenta\s+(?:ha\s+sido|fue|sera|esta)\s+(?:temporalmente\s+)?(?:suspendida|bloqueada|desactivada|restringida)/ },
  { term: 'click here to confirm', strong: true, re: /\bclick\s+(?:here|below|the\s+(?:link|button)(?:\s+below)?|on\s+the\s+link)\s+to\s+(?:confirm|verify|validate|update|unlock|restore|re-?activate|log\s*in|sign\s*in|secure)\b|\bklicken\s+sie\s+(?:hier|auf\s+den\s+link)\s*,?\s*um\b.{0,40}\b(?:bestatigen|verifizieren|entsperren)|\bcliquez\s+(?:ici|sur\s+le\s+lien)\s+pour\s+(?:confirmer|verifier|valider|debloquer)|\bhaga\s+clic\s+(?:aqui|en\s+el\s+enlace)\s+para\s+(?:confirmar|verificar|validar|desbloquear)/ },
  { term: 'unusual sign-in activity', strong: true, re: /\b(?:unusual|suspicious|unauthori[sz]ed)\s+(?:sign-?\s?in|log-?\s?in|login|account)?\s*(?:activity|attempts?|access)\b|\bungewohnliche\s+(?:anmelde)?aktivitat|\bactivite\s+inhabituelle|\bactividad\s+(?:inusual|sospechosa)/ },
  { term: 'enter your password', strong: true, re: /\b(?:enter|confirm|provide|update|re-?enter|verify)\s+your\s+(?:password|passcode|pin|credentials|login\s+details|card\s+details|bank\s+details)\b|\bgeben\s+sie\s+ihr\s+(?:passwort|kennwort)\b|\b(?:saisissez|entrez|confirmez)\s+votre\s+mot\s+de\s+passe\b|\b(?:introduzca|ingrese|confirme)\s+su\s+contrasena\b/ },
  { term: 'impersonation', strong: true, re: /\b(?:impersonat(?:e|es|ed|ing|ion)|pretend(?:s|ed|ing)?\s+to\s+be|posing\s+as|usurpation)\b/ },
  { term: 'social security number', strong: true, re: /\bsocial\s+security\s+(?:number|no)\b/ },
  { term: 'password', strong: false, re: /\b(?:password|passwort|kennwort|mot\s+de\s+passe|contrasena|senha|wachtwoord)\b/ },
  { term: 'login', strong: false, re: /\b(?:log-?\s?in|login|sign-?\s?in|log\s+on|anmelden|anmeldung|identifiant|connexion|iniciar\s+sesion|credentials?)\b/ },
  { term: 'bank', strong: false, re: /\b(?:bank(?:ing|konto)?|online\s+banking|banque|bancaire|banco|bancaria)\b/ },
  { term: 'payment details', strong: false, re: /\b(?:payment|billing|card|credit\s+card|bank(?:\s+account)?)\s+(?:details|information|info|number)\b|\b(?:zahlungs|kreditkarten)(?:daten|informationen)\b|\b(?:coordonnees|informations)\s+bancaires\b|\bdatos\s+(?:bancarios|de\s+pago)\b/ },
  { term: 'urgent', strong: false, re: /\b(?:urgent(?:ly)?|immediate\s+action|action\s+required|within\s+(?:24|48)\s+hours|dringend|sofort|urgente|inmediatamente)\b/ },
  { term: 'gift card', strong: false, re: /\b(?:gift\s*cards?|itunes\s+cards?|geschenkkarten?|cartes?\s+cadeaux?|tarjetas?\s+de\s+regalo)\b/ },
  { term: 'wire transfer', strong: false, re: /\b(?:wire\s+transfer|bank\s+transfer|uberweisung|virement|transferencia)\b/ },
  { term: 'cryptocurrency', strong: false, re: /\b(?:bitcoin|btc\s+wallet|crypto(?:currency)?\s+wallet|usdt)\b/ },
  { term: 'scam', strong: false, re: /\b(?:scam(?:mer)?s?|fraud(?:ulent)?|betrug|betruger|arnaque|escroquerie|estafa|fraude)\b/ },
  { term: 'spoofing', strong: false, re: /\bspoof(?:ed|ing)?\b/ },
];

/**
 * Phishing language in the texts: any strong phrase ("verify your account", "suspended
 * account", "phishing"…), or three different weak ones ("password", "bank", "login"): two
 * weak words are in every bank's newsletter, and a phishing report suspends an account
 * while the desk looks. Terms are reported by their English name whatever language
 * matched, in table order.
 */
export function phishingLanguage(...texts: string[]): { phishing: boolean; terms: string[] } {
  const folded = texts.map((t) => fold(t.length > MAX_TEXT ? t.slice(0, MAX_TEXT) : t).replace(/\s+/g, ' ')).join('\n');
  const terms = PHISHING_TERMS.filter((t) => t.re.test(folded));
  const phishing = terms.some((t) => t.strong) || terms.length >= WEAK_TERMS_NEEDED;
  return { phishing, terms: terms.map((t) => t.term) };
}

// ---------------------------------------------------------------------------------------
// Domains of the original

const HOSTNAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/;

function domainOf(address: string | null | undefined): string | null {
  if (!address) return null;
  const at = address.lastIndexOf('@');
  return at < 0 ? null : cleanHost(address.slice(at + 1));
}

function cleanHost(h: string): string | null {
  let s = h.trim().toLowerCase();
  let end = s.length;
  while (end > 0 && '>]);,'.includes(s[end - 1])) end--;
  s = s.slice(0, end).replace(/\.$/, '');
  return HOSTNAME.test(s) ? s : null;
}

/**
 * Domains the original's header fields name, for a comparison with our sending domains:
 * From, Sender, Return-Path, the DKIM-Signature d= (and i=), the hosts in Received
 * from/by clauses, the Message-ID's right-hand side, List-Unsubscribe hosts. Lower case,
 * deduplicated, in that order.
 */
export function originDomains(h: HeaderList | null): string[] {
  if (!h) return [];
  const out: string[] = [];
  const add = (d: string | null | undefined): void => {
    const c = d ? cleanHost(d) : null;
    if (c && !out.includes(c)) out.push(c);
  };
  for (const name of ['from', 'sender', 'return-path']) for (const v of h.getAll(name)) for (const a of addressesIn(v)) add(domainOf(a));
  for (const v of h.getAll('dkim-signature')) {
    for (const m of v.matchAll(/(?:^|;)\s*([di])\s*=\s*([^;\s]+)/g)) add(m[1] === 'd' ? m[2] : domainOf(m[2]));
  }
  for (const v of h.getAll('received')) {
    const clauses = v.split(';')[0];
    for (const m of clauses.matchAll(/\b(?:from|by)\s+([A-Za-z0-9.-]+)/gi)) add(m[1]);
    for (const m of clauses.matchAll(/\(([A-Za-z0-9.-]+\.[A-Za-z]{2,})\.?\s*\[/g)) add(m[1]);
  }
  for (const v of h.getAll('message-id')) add(domainOf(/<([^<>]+)>/.exec(v)?.[1] ?? v.trim()));
  for (const v of h.getAll('list-unsubscribe')) {
    for (const m of v.matchAll(/<\s*(?:https?:\/\/([^/:>?#\s]+)|mailto:([^>?\s]+))/gi)) add(m[1] ?? domainOf(m[2]));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The whole report

export interface AbuseAnalysis {
  /** The report's From address. */
  reporter: string | null;
  original: HeaderList | null;
  originalFound: OriginalFound;
  channel: 'email' | 'sms';
  /** Mobile numbers of an SMS complaint (empty for email ones). */
  phones: string[];
  /** SMS: the sender id or number the reporter names (`from "PROMO"`), or null. */
  sender: string | null;
  phishing: boolean;
  phishingTerms: string[];
  originDomains: string[];
  /**
   * Written by a person and reads as a report: an SMS complaint, complaint language in the
   * reporter's words, or a message forwarded with nothing but "Fwd:".
   */
  looksLikeReport: boolean;
}

const COMPLAINT_WORDS = /\b(?:spam(?:mer|ming|s)?|abuse|unsolicited|phish\w*|scam\w*|fraud\w*|junk|never\s+(?:signed|subscribed|opted|asked|agreed)|did\s+not\s+(?:sign|subscribe|opt|ask|consent)|didn'?t\s+(?:sign|subscribe|opt|ask|consent)|stop\s+(?:sending|emailing|texting|messaging)|unsubscribe|harass\w*|malware|virus|complain\w*|report(?:ing)?\s+(?:this|the\s+following)|belastigung|werbung|unerwunscht|indesirable|pourriel|no\s+deseado|correo\s+basura|acoso|denuncia)\b/;

/** "Fwd:", "FW:", "WG:", "TR:", "RV:", "Enc:", "I:", "Doorst:", "VS:", "PD:". */
const FORWARD_SUBJECT = /^\s*(?:\[[^\]]*\]\s*)?(?:fwd?|wg|tr|rv|enc|i|doorst|vs|vb|pd|fs)\s*:/i;

/** Mail a program wrote (RFC 3834 Auto-Submitted, a DSN or MDN, a mailer daemon): never a person's report. */
function automated(root: MimePart): boolean {
  const auto = (root.headers.get('auto-submitted') ?? 'no').trim().toLowerCase();
  if (auto !== '' && !auto.startsWith('no')) return true;
  if (root.type === 'multipart/report' || root.headers.has('x-failed-recipients')) return true;
  return /^(?:mailer-daemon|postmaster|mail-daemon|mailer)@/i.test(firstAddress(root.headers.get('from')) ?? '');
}

/** Analyses a message sent to abuse@ (or one that reads like it). */
export function analyseAbuse(root: MimePart, opts: { phoneRegion?: string; phoneRegions?: readonly string[] } = {}): AbuseAnalysis {
  const reporter = firstAddress(root.headers.get('from'));
  const subject = root.headers.decoded('subject') ?? '';
  const own = readableText(root, false);
  const located = locateOriginal(root, own, domainOf(reporter));
  const original = located.headers;

  // An SMS complaint: about a text message, naming a mobile number, and no e-mail original.
  const emailOriginal = !!original && ['from', 'return-path', 'sender'].some((n) => addressesIn(original.get(n)).length > 0);
  let phones: string[] = [];
  let channel: 'email' | 'sms' = 'email';
  let sender: string | null = null;
  if (!emailOriginal && aboutSms(subject + '\n' + own)) {
    // A national number is read in each region (src/phone.ts): one that is a mobile in
    // several stays as several candidates, for the trace by number to choose from.
    phones = [...new Set((opts.phoneRegions ?? [opts.phoneRegion ?? 'US']).flatMap((r) => mobileNumbers(subject + '\n' + own, r)))];
    if (phones.length > 0) {
      channel = 'sms';
      sender = senderIdIn(subject + '\n' + own);
    }
  }

  const origSubject = original?.decoded('subject') ?? '';
  const { phishing, terms } = phishingLanguage(subject, own, origSubject, located.found === 'attached' ? located.text : '');
  const words = subject + '\n' + located.words.slice(0, MAX_PHONE_TEXT);
  const looksLikeReport =
    !automated(root) && (channel === 'sms' || COMPLAINT_WORDS.test(fold(words)) || (located.found !== 'none' && FORWARD_SUBJECT.test(subject)));
  return {
    reporter,
    original,
    originalFound: located.found,
    channel,
    phones,
    sender,
    phishing,
    phishingTerms: terms,
    originDomains: originDomains(original),
    looksLikeReport,
  };
}

/** Phishing language and domains of the original of a feedback-loop report sent to abuse@. */
export function describeOriginal(original: HeaderList | null, originalPart: MimePart | null, reportText: string): Pick<AbuseAnalysis, 'phishing' | 'phishingTerms' | 'originDomains'> {
  const { phishing, terms } = phishingLanguage(reportText, original?.decoded('subject') ?? '', originalPart ? readableText(originalPart, false) : '');
  return { phishing, phishingTerms: terms, originDomains: originDomains(original) };
}
