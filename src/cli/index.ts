#!/usr/bin/env node
/**
 * `abusegate <command>`: parse, token, corpus, webhooks. Usage errors and bad input end with
 * one line on stderr and exit code 2 (usage) or 1 (failure); never a stack trace.
 *
 * Help answers before anything else is loaded (help.ts imports nothing), and each command
 * imports the modules it needs when it runs: the parser, the config loader and ioredis
 * together take most of a second to load on a busy machine, which `--help` need not wait for.
 */
import { parseArgs } from 'node:util';
import { helpFor, USAGE } from './help.js';

class UsageError extends Error {}

const MAILBOXES: ReadonlyArray<string> = ['fbl', 'abuse', 'bounces', 'unsubscribe'];

async function codecFrom(secret: string | null) {
  if (!secret) return undefined;
  const { createTokenCodec, parseTokenSecrets } = await import('../token/token.js');
  return createTokenCodec(parseTokenSecrets(secret));
}

async function run(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd) {
    process.stdout.write(USAGE + '\n');
    return 2;
  }
  const help = helpFor(argv);
  if (help !== null) {
    process.stdout.write(help + '\n');
    return 0;
  }
  switch (cmd) {
    case 'parse': {
      const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options: { mailbox: { type: 'string' }, token: { type: 'string' } } });
      if (positionals.length === 0) throw new UsageError('parse needs at least one PATH');
      const mailbox = values.mailbox;
      if (mailbox !== undefined && !MAILBOXES.includes(mailbox)) throw new UsageError(`--mailbox must be one of ${MAILBOXES.join(', ')}`);
      const [{ loadConfig }, { loadBounceRules }, { runParse }] = await Promise.all([import('../config/load.js'), import('../parse/bounce/index.js'), import('./parse.js')]);
      const config = loadConfig({ env: process.env });
      return runParse(positionals, {
        codec: await codecFrom(config.tokens.secret),
        tokenHeader: config.tokens.header,
        bounceRules: loadBounceRules(),
        // As the SMTP path (gateway.ts, ingest.ts) parses: same limits, budget and checks.
        delivered: mailbox
          ? {
              mailbox: mailbox as 'fbl' | 'abuse' | 'bounces' | 'unsubscribe',
              envelopeToken: values.token,
              limits: { maxDepth: config.smtp.maxMimeDepth, maxParts: config.smtp.maxMimeParts },
              phoneRegions: config.phone.regions,
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
        options: { account: { type: 'string' }, campaign: { type: 'string' }, recipient: { type: 'string' }, short: { type: 'boolean' } },
      });
      if (!values.account || !values.campaign) throw new UsageError('token needs --account and --campaign');
      const [{ loadConfig }, { TokenError }] = await Promise.all([import('../config/load.js'), import('../token/token.js')]);
      const config = loadConfig({ env: process.env });
      const codec = await codecFrom(config.tokens.secret);
      if (!codec) throw new TokenError('TOKEN_NO_SECRET', 'no token secret: set ABUSEGATE_TOKEN_SECRET or tokens.secret');
      // --short with --recipient: the recipient-bound VERP form (bounces+<token>@).
      const token = values.short
        ? codec.mintShort({ account: values.account, campaign: values.campaign, recipient: values.recipient })
        : values.recipient
        ? codec.mintLong({ account: values.account, campaign: values.campaign, recipient: values.recipient })
        : codec.mintShort({ account: values.account, campaign: values.campaign });
      process.stdout.write(token + '\n');
      return 0;
    }
    case 'corpus': {
      const options = { disputed: { type: 'string' }, folds: { type: 'string' }, seed: { type: 'string' }, sisimai: { type: 'boolean' } } as const;
      const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options });
      if (positionals.length !== 1) throw new UsageError('corpus needs one DIR');
      const folds = values.folds === undefined ? undefined : Number(values.folds);
      const seed = values.seed === undefined ? undefined : Number(values.seed);
      if (folds !== undefined && !(Number.isInteger(folds) && folds >= 2 && folds <= 20)) throw new UsageError('--folds needs a whole number from 2 to 20');
      if (seed !== undefined && !Number.isInteger(seed)) throw new UsageError('--seed needs a whole number');
      const { runCorpus } = await import('./corpus.js');
      runCorpus({ dir: positionals[0], disputed: values.disputed, folds, seed, sisimai: values.sisimai }, process.stdout);
      return 0;
    }
    case 'webhooks': {
      const { runWebhooks } = await import('./webhooks.js');
      return runWebhooks(rest, { out: process.stdout, err: process.stderr, stdin: process.stdin, env: process.env });
    }
    case 'operators': {
      const { runOperators } = await import('./operators.js');
      return runOperators(rest, { out: process.stdout, err: process.stderr, stdin: process.stdin, env: process.env });
    }
    case 'vetting': {
      const [{ runVetting }, { loadConfig }] = await Promise.all([import('./vetting.js'), import('../config/load.js')]);
      return runVetting(rest, { out: process.stdout, err: process.stderr, defaultOut: loadConfig({ env: process.env }).vetting.rdapBootstrap });
    }
    default:
      throw new UsageError(`unknown command: ${cmd}`);
  }
}

const argv = process.argv.slice(2);
run(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      // The help of the command that was misused (the overview for an unknown one).
      process.stderr.write(`abusegate: ${err.message}\n${helpFor([...argv.slice(0, 2), '--help'])}\n`);
      process.exitCode = 2;
    } else {
      // Bad configuration, a bad token secret, an unreadable file: one line, no stack trace.
      process.stderr.write(`abusegate: ${err.message}\n`);
      process.exitCode = 1;
    }
  },
);
