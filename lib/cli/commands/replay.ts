import type { Command } from 'commander';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import { ReplayRefusedError } from '../../replay/errors';
import type { ReplayOutcome } from '../../replay/replay';
import { addCommonOptions } from '../options';
import { Output } from '../output';

interface ReplayOptions extends CommonOptions {
  readonly dryRun?: boolean;
  readonly json?: boolean;
}

/** Prints what a replay did (or would do). */
export function printReplay(out: Output, r: ReplayOutcome): void {
  out.line(`${r.execution} (${out.status(r.status)}): ${r.reason}`);
  if (r.action === 'redrive') out.line(r.dryRun ? `would redrive ${r.executionArn}` : `redriven: ${r.executionArn}`);
  else out.line(r.dryRun ? `would start ${r.newExecutionName ?? '?'} with the original input` : `started ${r.newExecutionName ?? '?'}: ${r.startedExecutionArn ?? ''}`);
  out.note('targets already applied at this commit are skipped; follow it with tfstep show');
}

/** `tfstep replay <execution>`: redrive a failed run where AWS allows it, else run its push again. */
export function register(program: Command): void {
  const cmd = program
    .command('replay')
    .description('replay a failed, timed out or aborted run: redrive it where AWS allows, else start it again with the original input')
    .argument('<execution>', 'the execution name (or ARN) to replay')
    .option('--dry-run', 'say what would happen, change nothing')
    .option('--json', 'print the decision as JSON');
  addCommonOptions(cmd, { local: false });
  cmd.addHelpText('after', '\nExit codes: 0 replayed (or would be), 1 refused (still running, succeeded), 2 bad input.');
  cmd.action(async (execution: string, opts: ReplayOptions) => {
    const out = new Output();
    const backend = await openBackend({ ...opts, local: false });
    try {
      const result = await backend.replay(execution, { dryRun: opts.dryRun });
      if (opts.json) out.json(result);
      else printReplay(out, result);
      process.exitCode = 0;
    } catch (err) {
      if (!(err instanceof ReplayRefusedError)) throw err;
      if (opts.json) out.json({ refused: true, reason: err.message });
      else out.note(`tfstep: ${err.message}`);
      process.exitCode = 1;
    } finally {
      await backend.close();
    }
  });
}
