import type { Command } from 'commander';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import type { LogWriter } from '../../operator/logs';
import { addCommonOptions, addPollOption } from '../options';
import { Output, stripAnsi } from '../output';

interface LogsOptions extends CommonOptions {
  readonly account?: string;
  readonly module?: string;
  readonly follow?: boolean;
  readonly profileFor: readonly string[];
  readonly pollMs?: number;
}

function writerFor(out: Output): LogWriter {
  let lastProgress = '';
  return {
    header: (text) => out.line(out.style('cyan', `==> ${text}`)),
    // The tool's own colours pass through on a terminal only.
    line: (text) => out.line(out.colour ? text : stripAnsi(text)),
    note: (text) => out.note(text),
    // Progress is for a person watching: shown once per change, only on a terminal.
    progress: (text) => {
      if (!out.progressEnabled || text === lastProgress) return;
      lastProgress = text;
      out.note(`... ${text}`);
    },
  };
}

/** `tfstep logs <execution>`: the runner tasks' output, streamed with `--follow`. */
export function register(program: Command): void {
  const cmd = program
    .command('logs')
    .description("print the runner tasks' logs of an execution, as if Terraform ran here; --follow streams until the run stops")
    .argument('<execution>', 'the execution name (or its ARN)')
    .option('--account <name>', 'only this account (name or id)')
    .option('--module <path>', 'only the lines of this module')
    .option('-f, --follow', 'keep streaming until the execution and its tasks stop')
    .option(
      '--profile-for <account=profile>',
      'AWS profile for reading CloudWatch Logs in a target account (repeatable); the launcher role cannot read logs',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    );
  addCommonOptions(cmd, { local: true });
  addPollOption(cmd);
  cmd.addHelpText(
    'after',
    '\nFinished tasks are read from the central artifacts bucket; running ones from CloudWatch Logs in the\n' +
      'target account, which needs credentials there: --profile-for ACCOUNT=PROFILE, or a default profile\n' +
      'that can read the log group /tfstep/runner-<central region> in that account.\n' +
      '\nExit codes: 0 printed, 2 bad input (no such execution, options, config, no credentials).',
  );
  cmd.action(async (execution: string, opts: LogsOptions) => {
    const out = new Output();
    const writer = writerFor(out);
    const request = { execution, account: opts.account, module: opts.module, follow: opts.follow === true };
    const backend = await openBackend(opts);
    try {
      await backend.logReader({ profileFor: opts.profileFor, pollMs: opts.pollMs }).run(request, writer);
      process.exitCode = 0;
    } finally {
      await backend.close();
    }
  });
}
