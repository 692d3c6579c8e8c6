import { SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { addCommonOptions, positiveInt } from '../../operator/cli-options';
import { awsRecords, awsSettings, clientConfig, loadOperatorConfig, loadOptionalConfig, localRecords, stateDirOf, type CommonOptions, type OpenRecords } from '../../operator/context';
import { AwsRunsSource, LocalRunsSource, STATUS_FILTERS, type RunsSource } from '../../operator/runs';
import { RunsOutputSchema, type RunsOutput } from '../../operator/views';
import { Output, formatDuration, shortSha } from '../output';

interface RunsOptions extends CommonOptions {
  readonly repo?: string;
  readonly status?: string;
  readonly limit: number;
  readonly json?: boolean;
}

/** Opens the runs source of `--local` or AWS, with what must be closed after. */
export async function openRunsSource(opts: CommonOptions): Promise<{ source: RunsSource; close: () => Promise<void> }> {
  let open: OpenRecords;
  let source: RunsSource;
  if (opts.local) {
    const config = loadOptionalConfig(opts.config);
    open = await localRecords(stateDirOf(opts));
    source = new LocalRunsSource(open.records, config);
  } else {
    const config = loadOperatorConfig(opts.config);
    const settings = awsSettings(config, opts);
    open = awsRecords(settings);
    const sfn = new SFNClient(clientConfig(settings));
    source = new AwsRunsSource({ sfn, records: open.records, config, stateMachineArn: settings.stateMachineArn });
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
