import { SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { addCommonOptions, positiveInt } from '../../operator/cli-options';
import { awsRecords, awsSettings, clientConfig, loadOperatorConfig, loadOptionalConfig, localRecords, stateDirOf, type CommonOptions, type OpenRecords } from '../../operator/context';
import { AwsRunsSource, LocalRunsSource, STATUS_FILTERS, type RunsSource } from '../../operator/runs';
import { RunsOutputSchema, type RunsOutput } from '../../operator/views';
import { DEFAULT_STATE_DIR } from '../../local/engine/store';
import { Output, formatDuration, shortSha } from '../output';

interface RunsOptions extends CommonOptions {
  readonly repo?: string;
  readonly status?: string;
  readonly limit: number;
  readonly json?: boolean;
}

/** The options the user gave that every command hinted at needs too, each quoted for a shell when needed. */
export function hintOptions(opts: CommonOptions): string {
  const quote = (v: string) => (/^[A-Za-z0-9_./:@=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  // Defaults need not be repeated.
  const pairs: [string, string | undefined][] = opts.local
    ? [['--state-dir', opts.stateDir === DEFAULT_STATE_DIR ? undefined : opts.stateDir], ['--config', opts.config]]
    : [['--config', opts.config], ['--profile', opts.profile], ['--region', opts.region], ['--partition', opts.partition === 'aws' ? undefined : opts.partition]];
  return pairs.map(([flag, value]) => (value === undefined ? '' : ` ${flag} ${quote(value)}`)).join('');
}

/** Opens the runs source of `--local` or AWS, with what must be closed after. */
export async function openRunsSource(opts: CommonOptions): Promise<{ source: RunsSource; close: () => Promise<void> }> {
  let open: OpenRecords;
  let source: RunsSource;
  if (opts.local) {
    const config = loadOptionalConfig(opts.config);
    open = await localRecords(stateDirOf(opts));
    source = new LocalRunsSource(open.records, config, undefined, hintOptions(opts));
  } else {
    const config = loadOperatorConfig(opts.config);
    const settings = awsSettings(config, opts);
    open = awsRecords(settings);
    const sfn = new SFNClient(clientConfig(settings));
    source = new AwsRunsSource({ sfn, records: open.records, config, stateMachineArn: settings.stateMachineArn, hintOptions: hintOptions(opts) });
    const records = open;
    open = {
      records: records.records,
      close: async () => {
        sfn.destroy();
        await records.close();
      },
    };
  }
  return { source, close: open.close };
}

/** Prints `tfstep runs` output. */
export function printRuns(out: Output, result: RunsOutput): void {
  if (result.runs.length === 0) {
    out.note('no runs found');
    return;
  }
  out.table(
    ['EXECUTION', 'REPOSITORY', 'COMMIT', 'STATUS', 'STAGE', 'STARTED', 'DURATION'],
    result.runs.map((r) => [
      r.execution,
      r.repository ?? '-',
      shortSha(r.commit),
      out.status(r.status),
      r.stage ?? '-',
      r.startedAt ? r.startedAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z') : '-',
      formatDuration(r.durationSeconds),
    ]),
  );
}

/** `tfstep runs`: recent executions with repository, commit, status, stage reached and duration. */
export function register(program: Command): void {
  const cmd = program
    .command('runs')
    .description('list recent pipeline executions: repository, commit, status, stage reached, duration')
    .option('--repo <owner/name>', 'only runs of this repository')
    .option('--status <status>', `only runs with this status (${STATUS_FILTERS.join(', ')})`)
    .option('--limit <n>', 'at most this many runs', positiveInt('--limit'), 20)
    .option('--json', 'print stable JSON ({ runs: [...] }) instead of a table');
  addCommonOptions(cmd, { local: true });
  cmd.addHelpText('after', '\nExit codes: 0 listed, 2 bad input (options, config, no credentials).');
  cmd.action(async (opts: RunsOptions) => {
    const out = new Output();
    const { source, close } = await openRunsSource(opts);
    try {
      const runs = await source.listRuns({ repository: opts.repo, status: opts.status, limit: opts.limit });
      const result = RunsOutputSchema.parse({ runs });
      if (opts.json) out.json(result);
      else printRuns(out, result);
      process.exitCode = 0;
    } finally {
      await close();
    }
  });
}
