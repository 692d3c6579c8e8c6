import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { names } from '../../domain/names';
import { addCommonOptions, addPollOption } from '../../operator/cli-options';
import { awsSettings, clientConfig, loadOperatorConfig, loadOptionalConfig, localRecords, stateDirOf, type CommonOptions } from '../../operator/context';
import { BadOptionError } from '../../operator/errors';
import { AwsLogReader, LocalLogReader, type LogWriter, type RunnerTask } from '../../operator/logs';
import { Output, stripAnsi } from '../output';

interface LogsOptions extends CommonOptions {
  readonly account?: string;
  readonly module?: string;
  readonly follow?: boolean;
  readonly profileFor: readonly string[];
  readonly pollMs?: number;
}

/** Parses the repeated `--profile-for ACCOUNT=PROFILE` into account (name or id) -> profile. */
export function parseProfileFor(values: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const v of values) {
    const m = /^([^=\s]+)=([^=\s]+)$/.exec(v);
    if (!m) throw new BadOptionError('--profile-for', v, 'ACCOUNT=PROFILE, where ACCOUNT is an account name or id from the config');
    map.set(m[1]!, m[2]!);
  }
  return map;
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
    if (opts.local) {
      const config = loadOptionalConfig(opts.config);
      const stateDir = stateDirOf(opts);
      const open = await localRecords(stateDir);
      try {
        await new LocalLogReader({ stateDir, records: open.records, config, pollMs: opts.pollMs }).run(request, writer);
      } finally {
        await open.close();
      }
      process.exitCode = 0;
      return;
    }
    const config = loadOperatorConfig(opts.config);
    const settings = awsSettings(config, opts);
    const profiles = parseProfileFor(opts.profileFor);
    const profileOf = (task: RunnerTask): string | undefined => profiles.get(task.account) ?? profiles.get(task.accountId) ?? settings.profile;
    const logsClients = new Map<string, CloudWatchLogsClient>();
    const ecsClients = new Map<string, ECSClient>();
    const regionOf = (task: RunnerTask): string => task.region || config.central.region;
    const sfn = new SFNClient(clientConfig(settings));
    const s3 = new S3Client(clientConfig(settings));
    const reader = new AwsLogReader({
      sfn,
      s3,
      config,
      stateMachineArn: settings.stateMachineArn,
      logsFor: (task) => {
        const key = `${task.accountId}/${regionOf(task)}`;
        if (!logsClients.has(key)) logsClients.set(key, new CloudWatchLogsClient(clientConfig({ region: regionOf(task), profile: profileOf(task) })));
        return logsClients.get(key)!;
      },
      ecsFor: (task) => {
        const key = `${task.accountId}/${regionOf(task)}`;
        if (!ecsClients.has(key)) ecsClients.set(key, new ECSClient(clientConfig({ region: regionOf(task), profile: profileOf(task) })));
        return ecsClients.get(key)!;
      },
      credentialsHint: (task) =>
        `pass --profile-for ${task.account}=<profile> with a profile of account ${task.accountId} allowed logs:GetLogEvents on ${names.runnerLogGroup(config.central.region)}` +
        ' (and ecs:DescribeTasks for --follow)',
      pollMs: opts.pollMs,
    });
    try {
      await reader.run(request, writer);
      process.exitCode = 0;
    } finally {
      sfn.destroy();
      s3.destroy();
      for (const c of [...logsClients.values(), ...ecsClients.values()]) c.destroy();
    }
  });
}
