import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { names } from '../../domain/names';
import { addCommonOptions } from '../../operator/cli-options';
import { awsSettings, clientConfig, loadOperatorConfig, type CommonOptions } from '../../operator/context';
import { ReplayRefusedError } from '../../replay/errors';
import { replayExecution, type ReplayOutcome } from '../../replay/replay';
import { RunStore } from '../../store/run-store';
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
    const config = loadOperatorConfig(opts.config);
    const settings = awsSettings(config, opts);
    const sfn = new SFNClient(clientConfig(settings));
    const dynamodb = new DynamoDBClient(clientConfig(settings));
    const store = RunStore.fromClient(dynamodb, names.runTable());
    try {
      const result = await replayExecution(sfn, {
        execution,
        stateMachineArn: settings.stateMachineArn,
        dryRun: opts.dryRun,
        holdsBranch: async (name) => {
          const run = await store.getRunIdentity(name);
          if (!run) return false;
          return (await store.getLock(run.repository, run.branch)).holder === name;
        },
        caughtFailures: async (name) => {
          const run = await store.getRunRecord(name);
          return [...new Set(Object.values(run?.accounts ?? {}).filter((o) => !o.ok).map((o) => o.account))];
        },
      });
      if (opts.json) out.json(result);
      else printReplay(out, result);
      process.exitCode = 0;
    } catch (err) {
      if (!(err instanceof ReplayRefusedError)) throw err;
      if (opts.json) out.json({ refused: true, reason: err.message });
      else out.note(`tfstep: ${err.message}`);
      process.exitCode = 1;
    } finally {
      sfn.destroy();
      dynamodb.destroy();
    }
  });
}
