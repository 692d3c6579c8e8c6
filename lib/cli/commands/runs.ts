import type { Command } from 'commander';
import { openBackend } from '../../operator/backend';
import { OperatorError } from '../../operator/errors';
import type { CommonOptions } from '../../operator/context';
import { STATUS_FILTERS } from '../../operator/runs';
import { PullRequestRunsOutputSchema, type PullRequestRunsOutput } from '../../operator/pull-requests';
import { RunsOutputSchema, type RunsOutput } from '../../operator/views';
import { addCommonOptions, positiveInt } from '../options';
import { Output, formatDuration, shortSha } from '../output';

interface RunsOptions extends CommonOptions {
  readonly repo?: string;
  readonly status?: string;
  readonly limit: number;
  readonly json?: boolean;
  readonly pullRequests?: boolean;
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

/** Prints `tfstep runs --pull-requests` output. */
export function printPullRequestRuns(out: Output, result: PullRequestRunsOutput): void {
  if (result.pullRequestRuns.length === 0) {
    out.note('no pull request runs found');
    return;
  }
  out.table(
    ['RUN', 'REPOSITORY', 'PR', 'HEAD', 'STATUS', 'CHECK', 'MODULES', 'STARTED'],
    result.pullRequestRuns.map((r) => [
      r.run,
      r.repository,
      `#${r.pullRequest}`,
      shortSha(r.headSha),
      out.status(r.status),
      r.conclusion ?? '-',
      `${r.targets}${r.notAllowed ? ` (+${r.notAllowed} not allowed)` : ''}`,
      r.startedAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z'),
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
    .option('--pull-requests', 'list pull request plan runs instead: pull request, head commit, status, the check run\'s conclusion')
    .option('--json', 'print stable JSON ({ runs: [...] }, or { pullRequestRuns: [...] }) instead of a table');
  addCommonOptions(cmd, { local: true });
  cmd.addHelpText('after', '\nExit codes: 0 listed, 2 bad input (options, config, no credentials).');
  cmd.action(async (opts: RunsOptions) => {
    const out = new Output();
    const backend = await openBackend(opts);
    try {
      if (opts.pullRequests) {
        if (opts.status) throw new OperatorError('--status filters pipeline runs; with --pull-requests, leave it out (the STATUS column shows each run\'s)');
        const result = PullRequestRunsOutputSchema.parse({ pullRequestRuns: await backend.pullRequests.list({ repository: opts.repo, limit: opts.limit }) });
        if (opts.json) out.json(result);
        else printPullRequestRuns(out, result);
        process.exitCode = 0;
        return;
      }
      const runs = await backend.runs.listRuns({ repository: opts.repo, status: opts.status, limit: opts.limit });
      const result = RunsOutputSchema.parse({ runs });
      if (opts.json) out.json(result);
      else printRuns(out, result);
      process.exitCode = 0;
    } finally {
      await backend.close();
    }
  });
}
