import { Command } from 'commander';
import { TfstepError } from '../config/errors';
import { register as registerApprove } from './commands/approve';
import { register as registerAudit } from './commands/audit';
import { register as registerDoctor } from './commands/doctor';
import { register as registerDrift } from './commands/drift';
import { register as registerFleet } from './commands/fleet';
import { register as registerLocal } from './commands/local';
import { register as registerLogs } from './commands/logs';
import { register as registerReplay } from './commands/replay';
import { register as registerRuns } from './commands/runs';
import { register as registerShow } from './commands/show';
import { register as registerUi } from './commands/ui';
import { register as registerValidate } from './commands/validate';

/**
 * The `tfstep` CLI. Each command lives in `lib/cli/commands/<name>.ts` and exports
 * `register(program)`; this file only wires them and maps errors to exit codes.
 */
export function buildProgram(): Command {
  const program = new Command('tfstep')
    .description('Deploy Terraform across many AWS accounts with one Step Functions pipeline.')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nExit codes:\n  0  success\n  1  the pipeline (or the checked thing) failed or was rejected\n  2  bad input: config, repository, ref, arguments, credentials\n  3  doctor found problems in the AWS setup\n',
    );
  // commands: one line each, keep sorted
  registerApprove(program);
  registerAudit(program);
  registerDoctor(program);
  registerDrift(program);
  registerFleet(program);
  registerLocal(program);
  registerLogs(program);
  registerReplay(program);
  registerRuns(program);
  registerShow(program);
  registerUi(program);
  registerValidate(program);
  return program;
}

/** Runs the CLI; known errors print one clear message and exit 2, others exit 1 with the stack. */
export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  // Commander exits the process on a parse error by default; every command, nested ones too,
  // throws instead, so errors map to the documented exit codes (and tests keep their process).
  const override = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  override(program);
  try {
    await program.parseAsync([...argv]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') return 0;
    if (typeof code === 'string' && code.startsWith('commander.')) return 2;
    if (err instanceof TfstepError) {
      console.error(`tfstep: ${err.message}`);
      return 2;
    }
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    return 1;
  }
}

/**
 * A reader that goes away (`tfstep runs | head`) closes the pipe: the next write fails with EPIPE.
 * Unix tools stop quietly then, and so does tfstep, instead of printing a stack trace.
 */
export function stopQuietlyOnClosedPipe(stream: NodeJS.WriteStream, exit: (code: number) => void = (c) => process.exit(c)): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
      exit(0);
      return;
    }
    throw err;
  });
}

/**
 * The process entry point. `bin/tfstep.cjs` calls it explicitly, so the CLI runs whatever path
 * started it: `node bin/tfstep.cjs`, a symlink made by `npm link`, or `npx tfstep`.
 */
export function runAsProcess(argv: readonly string[] = process.argv): void {
  stopQuietlyOnClosedPipe(process.stdout);
  stopQuietlyOnClosedPipe(process.stderr);
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}

// `tsx lib/cli/main.ts ...` during development.
if (require.main === module) runAsProcess();
