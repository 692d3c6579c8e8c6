import type { Command } from 'commander';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import { DoctorReportSchema, type DoctorReport } from '../../operator/doctor';
import { addCommonOptions } from '../options';
import { Output } from '../output';

/** The exit code of `tfstep doctor` when it found problems in the AWS setup. */
export const EXIT_SETUP_PROBLEMS = 3;

interface DoctorOptions extends CommonOptions {
  readonly json?: boolean;
}

/** Prints one line per finding, with what to do under problems and unchecked items. */
export function printDoctor(out: Output, report: DoctorReport): void {
  const label = { ok: out.status('ok'), problem: out.style('red', 'PROBLEM'), unchecked: out.style('yellow', 'UNCHECKED') };
  for (const c of report.checks) {
    out.line(`${label[c.status]}${' '.repeat(10 - c.status.length)} ${c.check.padEnd(16)} ${c.subject}`);
    out.line(`           ${c.detail}`);
    if (c.fix) out.line(`           ${c.status === 'problem' ? 'fix' : 'to check'}: ${c.fix}`);
  }
  out.line();
  out.line(
    report.ok
      ? `no problems found${report.unchecked ? ` (${report.unchecked} not checkable from here)` : ''}`
      : `${report.problems} problem${report.problems === 1 ? '' : 's'} found${report.unchecked ? `, ${report.unchecked} not checkable from here` : ''}`,
  );
}

/** `tfstep doctor`: checks an AWS installation and says what to fix. */
export function register(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('check the AWS setup (state machine, launcher roles, clusters, task definitions, webhook secret, topic) and say how to fix what is wrong')
    .option('--json', 'print stable JSON ({ ok, problems, unchecked, checks }) instead of text');
  addCommonOptions(cmd, { local: false });
  cmd.addHelpText(
    'after',
    '\nRun it with credentials of the central account. Launcher roles trust only the state machine role,\n' +
      'so the clusters and task definitions are checked only when the caller may assume them; otherwise they\n' +
      'are reported as not checkable, with the command to run in the account.\n' +
      `\nExit codes: 0 no problems found, 1 unexpected error, 2 bad input (config, options), ${EXIT_SETUP_PROBLEMS} AWS setup problems found.`,
  );
  cmd.action(async (opts: DoctorOptions) => {
    const backend = await openBackend({ ...opts, local: false });
    try {
      const report = DoctorReportSchema.parse(await backend.doctor());
      const out = new Output();
      if (opts.json) out.json(report);
      else printDoctor(out, report);
      process.exitCode = report.ok ? 0 : EXIT_SETUP_PROBLEMS;
    } finally {
      await backend.close();
    }
  });
}
