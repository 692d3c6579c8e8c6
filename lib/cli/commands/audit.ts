import type { Command } from 'commander';
import { formatAuditLine, parseSince, type AuditRecord } from '../../domain/audit';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import { BadOptionError } from '../../operator/errors';
import { addCommonOptions } from '../options';
import { Output } from '../output';

interface AuditOptions extends CommonOptions {
  readonly since?: string;
  readonly account?: string;
  readonly json?: boolean;
}

/** Prints `tfstep audit` output: one line per record, oldest first. */
export function printAudit(out: Output, records: readonly AuditRecord[]): void {
  if (records.length === 0) {
    out.note('no audit records found');
    return;
  }
  for (const r of records) out.line(formatAuditLine(r));
}

/** Reads the audit trail as `tfstep audit` does; exported for tests and the local mode. */
export async function readAudit(opts: AuditOptions, now = new Date()): Promise<AuditRecord[]> {
  let since: Date | undefined;
  if (opts.since !== undefined) {
    try {
      since = parseSince(opts.since, now);
    } catch {
      throw new BadOptionError('--since', opts.since, 'a date (2026-01-31), a time (2026-01-31T12:00:00Z) or a duration back from now (30m, 12h, 7d)');
    }
  }
  const backend = await openBackend(opts);
  try {
    return await backend.audit.list({ since, account: opts.account });
  } finally {
    await backend.close();
  }
}

/** `tfstep audit`: who decided, overrode, applied and replayed what, from the permanent trail. */
export function register(program: Command): void {
  const cmd = program
    .command('audit')
    .description('the permanent audit trail: every decision, override, apply and replay with who, channel, time, run, commit and plan SHA-256s')
    .option('--since <when>', 'only records from this time on: a date (2026-01-31), a time (2026-01-31T12:00:00Z) or a duration back (30m, 12h, 7d)')
    .option('--account <name>', 'only records concerning this account')
    .option('--json', 'print stable JSON ({ records: [...] }) instead of lines');
  addCommonOptions(cmd, { local: true });
  cmd.addHelpText('after', '\nIn AWS it reads the audit bucket (s3:ListBucket and s3:GetObject); with --local, audit.jsonl in the state directory.\nExit codes: 0 listed, 2 bad input (options, config, no credentials).');
  cmd.action(async (opts: AuditOptions) => {
    const out = new Output();
    const records = await readAudit(opts);
    if (opts.json) out.json({ records });
    else printAudit(out, records);
    process.exitCode = 0;
  });
}
