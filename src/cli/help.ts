/**
 * The command line's help texts. This module imports nothing, so that `abusegate --help`
 * and `abusegate <command> --help` answer at Node's start-up speed: the commands' own
 * modules (the parser, the config loader, ioredis) load only when a command runs.
 */

export const USAGE = `usage:
  abusegate parse [--mailbox fbl|abuse|bounces|unsubscribe] PATH...
                                               one JSON line per message (files, or folders of *.eml)
  abusegate token --account A --campaign C [--recipient R]
                                               mint a token (with --recipient: the long form)
  abusegate corpus DIR [--disputed FILE] [--folds N [--seed S]] [--sisimai]
                                               score the parser against a corpus with answer-key.jsonl
  abusegate webhooks replay|verify …           dead letters, signatures
  abusegate operators add|remove|list …        operators of the desk console
  abusegate vetting refresh-rdap [--url URL]   refresh the shipped IANA RDAP bootstrap file
  abusegate COMMAND --help                     a command's options, with examples

examples:
  abusegate parse report.eml
  ABUSEGATE_TOKEN_SECRET=… abusegate token --account acme --campaign spring-sale
  abusegate webhooks replay --dry-run

Configuration comes from config/default.yaml, ABUSEGATE_CONFIG and the environment
(ABUSEGATE_TOKEN_SECRET for tokens, REDIS_URL for webhooks replay).`;

export const PARSE_USAGE = `usage: abusegate parse PATH...

Parses each message as the SMTP path does (no Redis) and prints one JSON object per
message, one per line, on stdout: kind, recipients with reason/hard/status, original,
reporter, attribution. Folders are searched recursively for *.eml. Tokens verify when
ABUSEGATE_TOKEN_SECRET is set. Progress goes to stderr on a terminal.

examples:
  abusegate parse report.eml
  abusegate parse mail/bounces/ > reports.jsonl
  abusegate parse dsn.eml | jq '.recipients[] | {address, reason, hard}'`;

export const TOKEN_USAGE = `usage: abusegate token --account A --campaign C [--recipient R]

Mints an attribution token with the first key of ABUSEGATE_TOKEN_SECRET (or tokens.secret):
the short form (for the VERP return path bounces+TOKEN@…) without --recipient, the long
form (for X-Abuse-Token and the unsubscribe link /u/TOKEN) with it. Ids are 1-64
characters of [A-Za-z0-9._-].

examples:
  export ABUSEGATE_TOKEN_SECRET=$(openssl rand -base64 32)
  abusegate token --account acme --campaign spring-sale
  abusegate token --account acme --campaign spring-sale --recipient jane@example.com`;

export const CORPUS_USAGE = `usage: abusegate corpus DIR [--disputed FILE] [--folds N [--seed S]] [--sisimai]

Scores the parser against a labelled corpus (bsd/, crlf/, cr/, not/ and answer-key.jsonl,
the Sisimai sample layout): recipient, hard/soft, status and reason per recipient. With
--disputed, a second table leaves out the entries FILE lists as wrong in the key.
With --folds N, the messages of each module are dealt into N folds (seeded by --seed,
default 15; a message's LF/CRLF/CR copies stay together), each fold is scored alone, and
the text rules that fire on one message or one fold only are listed for review, with the
reason confusions. --sisimai scores Debian's Sisimai (perl -MSisimai) on the same files.

examples:
  abusegate corpus ../shared/corpus/bounces
  abusegate corpus ../shared/corpus/bounces --disputed test/parse/corpus-disputed.json
  abusegate corpus ../shared/corpus/bounces --disputed test/parse/corpus-disputed.json --folds 5 --sisimai`;

export const REPLAY_USAGE = `usage: abusegate webhooks replay [--type T] [--since ISO-8601] [--dry-run]

Sends dead letters again (those of type T, dead since the given time): the running
gateways deliver them with a fresh retry schedule. Needs Redis (REDIS_URL, or the local
redis-server of npm start).

examples:
  abusegate webhooks replay --dry-run
  abusegate webhooks replay
  abusegate webhooks replay --type account.suspended --since 2026-03-10T00:00:00Z`;

export const VERIFY_USAGE = `usage: abusegate webhooks verify --secret whsec_… --id ID --timestamp SECONDS --signature "v1,…"
                                [--body-file F] [--tolerance SECONDS]

Checks one delivery's signature as a receiver should: prints valid (exit 0) or
invalid: <reason> (exit 1). The body is read from F or stdin, byte for byte (use printf,
not echo, which adds a newline); --tolerance 0 skips the time check.

examples:
  printf '%s' "$BODY" | abusegate webhooks verify --secret whsec_… --id evt_… \\
      --timestamp 1773144000 --signature "v1,…"
  abusegate webhooks verify --secret whsec_… --id evt_… --timestamp 1773144000 \\
      --signature "v1,…" --body-file body.json --tolerance 0`;

export const WEBHOOKS_USAGE = `usage:
  abusegate webhooks replay [--type T] [--since ISO-8601] [--dry-run]
      send dead letters again (those of type T, dead since the given time); needs Redis
      (REDIS_URL, or the local redis-server of npm start)
  abusegate webhooks verify --secret whsec_… --id ID --timestamp SECONDS --signature "v1,…"
                            [--body-file F] [--tolerance SECONDS]
      check a delivery's signature; the body is read from F or stdin, byte for byte
      (use printf, not echo, which adds a newline); --tolerance 0 skips the time check

examples:
  abusegate webhooks replay --dry-run
  printf '%s' "$BODY" | abusegate webhooks verify --secret whsec_… --id evt_… \\
      --timestamp 1773144000 --signature "v1,…"`;

export const OPERATORS_USAGE = `usage:
  abusegate operators add NAME --password-stdin   add an operator of the desk console, or set a
                                                  new password (the first line of stdin, 12+
                                                  characters; never an argument, which the process
                                                  list shows)
  abusegate operators remove NAME                 remove an operator; their sessions end at once
  abusegate operators list                        one line per operator: name, created
Needs Redis (REDIS_URL, or the local redis-server of npm start).

examples:
  printf '%s\\n' "$PASSWORD" | abusegate operators add alice --password-stdin
  abusegate operators list`;

export const VETTING_USAGE = `usage: abusegate vetting refresh-rdap [--url URL] [--out FILE]

Fetches the IANA RDAP bootstrap file for domains (RFC 9224; default
https://data.iana.org/rdap/dns.json), checks its shape, and writes it to FILE (default:
vetting.rdapBootstrap, config/rdap-dns.json). Account vetting finds each domain's
registry in it.

examples:
  abusegate vetting refresh-rdap && git diff --stat config/rdap-dns.json
  abusegate vetting refresh-rdap --url https://mirror.internal/rdap/dns.json`;

/** The help of `abusegate <args>` when they ask for it (--help or -h before any --, or `help CMD`), else null. */
export function helpFor(args: readonly string[]): string | null {
  const [cmd, sub] = args;
  if (cmd === 'help') return args.length > 1 ? helpFor([...args.slice(1), '--help']) : USAGE;
  const options = args.includes('--') ? args.slice(0, args.indexOf('--')) : args; // after --: paths
  const asked = options.some((a) => a === '--help' || a === '-h');
  if (!asked) return null;
  switch (cmd) {
    case 'parse':
      return PARSE_USAGE;
    case 'token':
      return TOKEN_USAGE;
    case 'corpus':
      return CORPUS_USAGE;
    case 'operators':
      return OPERATORS_USAGE;
    case 'vetting':
      return VETTING_USAGE;
    case 'webhooks':
      return sub === 'replay' ? REPLAY_USAGE : sub === 'verify' ? VERIFY_USAGE : WEBHOOKS_USAGE;
    default:
      return USAGE;
  }
}
