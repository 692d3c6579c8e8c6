import type { Command } from 'commander';
import { driftExitCode, formatDriftReport } from '../../domain/drift';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import { addCommonOptions } from '../options';

interface DriftOptions extends CommonOptions {
  readonly account?: string;
  readonly json?: boolean;
}

/** `tfstep drift`: the drift report of the fleet (or one account) as the last sweep left it. */
export function register(program: Command): void {
  const cmd = program
    .command('drift')
    .description('Show the drift report: per target clean, drifted (with the resources a plan would change), error or skipped, and when drift was first and last seen')
    .option('--account <name>', 'only this account')
    .option('--json', 'print the report as JSON ({ lastSweep, counts, targets: [...] })');
  addCommonOptions(cmd, { local: true });
  cmd.addHelpText('after', '\nRun a sweep on this machine with: tfstep local drift --config FILE --repo DIR\nExit codes: 0 nothing drifted, 1 a target drifted or could not be planned, 2 bad input (options, config, no credentials).');
  cmd.action(async (opts: DriftOptions) => {
    const backend = await openBackend(opts);
    try {
      const report = await backend.drift(opts.account);
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else process.stdout.write(`${formatDriftReport(report).join('\n')}\n`);
      process.exitCode = driftExitCode(report.counts);
    } finally {
      await backend.close();
    }
  });
}
