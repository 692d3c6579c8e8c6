/** The command-line options every operator command shares, declared once so their help reads the same. */
import { InvalidArgumentError, Option, type Command } from 'commander';

/** Adds `--config`, `--region`, `--partition`, `--profile` and, if asked, `--local`/`--state-dir`. */
export function addCommonOptions(cmd: Command, opts: { local: boolean }): Command {
  // main() maps commander's errors to exit codes; without this a subcommand's bad option
  // would call process.exit itself.
  cmd.exitOverride();
  cmd
    .option('--config <file>', 'the tfstep config file (default: tfstep.yaml, then examples/tfstep.yaml)')
    .option('--region <region>', "the central region (default: the config's central.region)")
    .option('--partition <partition>', 'the AWS partition (aws, aws-us-gov, aws-cn)', 'aws')
    .option('--profile <profile>', 'the AWS profile for the central account (default: AWS_PROFILE or the default credential chain)');
  if (opts.local) {
    cmd.option('--local', 'read the local mode state instead of AWS').option('--state-dir <dir>', 'the local state directory (with --local)', '.tfstep');
  }
  return cmd;
}

/** A hidden option tests use to make `--follow` poll without waiting. */
export function addPollOption(cmd: Command): Command {
  return cmd.addOption(new Option('--poll-ms <ms>', 'milliseconds between polls with --follow').hideHelp().argParser((v) => Number(v)));
}

/** Parses a positive integer option. */
export function positiveInt(name: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError(`${name}: got ${JSON.stringify(value)}; expected a positive integer`);
    return n;
  };
}
