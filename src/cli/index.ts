#!/usr/bin/env node
/**
 * `abusegate <command>`: parse, token, corpus. Usage errors and bad input end with one
 * line on stderr and exit code 2 (usage) or 1 (failure); never a stack trace.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../config/load.js';
import { loadBounceRules } from '../parse/bounce/index.js';
import { createTokenCodec, parseTokenSecrets, TokenError } from '../token/token.js';
import { formatCorpusTable, scoreCorpus } from './corpus.js';
import { runParse } from './parse.js';
import { runWebhooks } from './webhooks.js';

const USAGE = `usage:
  abusegate parse [--mailbox M] PATH...        one JSON line per message (files, or folders of *.eml);
                                               --mailbox fbl|abuse|bounces|unsubscribe parses as if delivered there
  abusegate token --account A --campaign C [--recipient R]
                                               mint a token (with --recipient: the long form)
  abusegate corpus DIR [--disputed FILE]       score the parser against a corpus with answer-key.jsonl
  abusegate webhooks replay|verify …           dead letters, signatures (abusegate webhooks --help)
Configuration comes from config/default.yaml, ABUSEGATE_CONFIG and the environment
(ABUSEGATE_TOKEN_SECRET for tokens).`;

class UsageError extends Error {}

const MAILBOXES: ReadonlyArray<string> = ['fbl', 'abuse', 'bounces', 'unsubscribe'];

function codecFrom(secret: string | null) {
  return secret ? createTokenCodec(parseTokenSecrets(secret)) : undefined;
}

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE + '\n');
    return cmd ? 0 : 2;
  }
  switch (cmd) {
    case 'parse': {
      const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options: { mailbox: { type: 'string' }, token: { type: 'string' } } });
      if (positionals.length === 0) throw new UsageError('parse needs at least one PATH');
      const mailbox = values.mailbox;
      if (mailbox !== undefined && !MAILBOXES.includes(mailbox)) throw new UsageError(`--mailbox must be one of ${MAILBOXES.join(', ')}`);
      const config = loadConfig({ env: process.env });
      return runParse(positionals, {
        codec: codecFrom(config.tokens.secret),
        tokenHeader: config.tokens.header,
        bounceRules: loadBounceRules(),
        // As the SMTP path (gateway.ts, ingest.ts) parses: same limits, budget and checks.
        delivered: mailbox
          ? {
              mailbox: mailbox as 'fbl' | 'abuse' | 'bounces' | 'unsubscribe',
              envelopeToken: values.token,
              limits: { maxDepth: config.smtp.maxMimeDepth, maxParts: config.smtp.maxMimeParts },
              phoneRegion: config.form.phoneRegion,
              deadlineMs: config.smtp.parseDeadlineMs,
              maxHeaderBytes: config.smtp.maxHeaderBytes,
            }
          : undefined,
        out: process.stdout,
        err: process.stderr,
        progress: process.stderr.isTTY === true,
      });
    }
    case 'token': {
      const { values } = parseArgs({
        args: rest,
        options: { account: { type: 'string' }, campaign: { type: 'string' }, recipient: { type: 'string' } },
      });
      if (!values.account || !values.campaign) throw new UsageError('token needs --account and --campaign');
      const config = loadConfig({ env: process.env });
      const codec = codecFrom(config.tokens.secret);
      if (!codec) throw new TokenError('TOKEN_NO_SECRET', 'no token secret: set ABUSEGATE_TOKEN_SECRET or tokens.secret');
      const token = values.recipient
        ? codec.mintLong({ account: values.account, campaign: values.campaign, recipient: values.recipient })
        : codec.mintShort({ account: values.account, campaign: values.campaign });
      process.stdout.write(token + '\n');
      return 0;
    }
    case 'corpus': {
      const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options: { disputed: { type: 'string' } } });
      if (positionals.length !== 1) throw new UsageError('corpus needs one DIR');
      process.stdout.write('All answer-key entries:\n' + formatCorpusTable(scoreCorpus(positionals[0])) + '\n');
      if (values.disputed) {
        const disputed = Object.keys((JSON.parse(readFileSync(values.disputed, 'utf8')) as { files: Record<string, string> }).files);
        process.stdout.write(`\nWithout the ${disputed.length} disputed entries (${values.disputed}):\n` + formatCorpusTable(scoreCorpus(positionals[0], { exclude: disputed })) + '\n');
      }
      return 0;
    }
    case 'webhooks':
      return runWebhooks(rest, { out: process.stdout, err: process.stderr, stdin: process.stdin, env: process.env });
    default:
      throw new UsageError(`unknown command: ${cmd}`);
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`abusegate: ${err.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (err instanceof ConfigError || err instanceof TokenError) {
      process.stderr.write(`abusegate: ${err.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`abusegate: ${err.message}\n`);
      process.exitCode = 1;
    }
  },
);
