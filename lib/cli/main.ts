import { Command } from 'commander';
import { TfstepError } from '../config/errors';
import { register as registerApprove } from './commands/approve';
import { register as registerDoctor } from './commands/doctor';
import { register as registerLocal } from './commands/local';
import { register as registerLogs } from './commands/logs';
import { register as registerReplay } from './commands/replay';
import { register as registerRuns } from './commands/runs';
import { register as registerShow } from './commands/show';
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
  registerDoctor(program);
  registerLocal(program);
  registerLogs(program);
  registerReplay(program);
  registerRuns(program);
  registerShow(program);
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

if (require.main === module || process.argv[1]?.endsWith('tfstep.cjs')) {
  main(process.argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
