import { localDrift } from '../../local/ui/drift';
import type { Command } from 'commander';
import * as path from 'node:path';
import { localDashboardPages, serveLocalDashboard } from '../../dashboard/local';
import { EXAMPLE_CONFIG, localDemo } from '../../local/ui/demo';
import { localReplay } from '../../local/ui/replay';
import { localRun, parseApproveMode } from '../../local/ui/run';
import { localServe, serveUntilStopped } from '../../local/ui/serve';
import { DEFAULT_STATE_DIR } from '../../local/engine/store';
import { LocalModeError } from '../../local/engine/errors';

interface RunOptions {
  config: string;
  repo: string;
  ref?: string;
  sha?: string;
  repository?: string;
  approve: string;
  stateDir: string;
  json?: boolean;
  fromRemote?: boolean;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new LocalModeError(`--port ${JSON.stringify(value)} is not a port; expected a number from 0 to 65535`);
  return n;
}

/**
 * `tfstep local ...`: the whole pipeline on this machine. The real state machine definition
 * runs in-process (aws-local-stepfunctions), DynamoDB is dynalite in the state directory, and
 * the runner runs as a child process.
 */
export function register(program: Command): void {
  const local = program
    .command('local')
    .description('Run the pipeline on this machine: the real definition, a local run table, the runner as a child process. No AWS account needed.');

  local
    .command('run')
    .description('Push a local git repository through the pipeline and follow it')
    .requiredOption('--config <file>', 'the tfstep YAML config')
    .requiredOption('--repo <dir>', 'the local git repository (the infrastructure repository)')
    .option('--ref <ref>', "the branch ref to deploy (default: the repository's deploy branch)")
    .option('--sha <sha>', "the commit to deploy (default: the ref's head)")
    .option('--repository <owner/name>', 'which configured repository this is, when the config has several')
    .option('--approve <mode>', 'answer approvals: prompt (ask here), auto (approve as "auto"), reject', 'prompt')
    .option('--state-dir <dir>', 'where runs, queues, artifacts and logs are kept', DEFAULT_STATE_DIR)
    .option('--json', 'print one final JSON document on stdout')
    .option('--from-remote', "clone and read the repository's configured URL (a private repository: credentials from TFSTEP_GIT_CREDENTIALS_FILE or TFSTEP_GIT_CREDENTIALS)")
    .addHelpText('after', '\nExit codes: 0 succeeded, 1 failed or rejected, 2 bad input (config, repository, ref, SHA).\n')
    .action(async (opts: RunOptions) => {
      const outcome = await localRun({
        configFile: opts.config,
        repoDir: opts.repo,
        ref: opts.ref,
        sha: opts.sha,
        repository: opts.repository,
        approve: parseApproveMode(opts.approve),
        stateDir: opts.stateDir,
        json: opts.json,
        fromRemote: opts.fromRemote,
      });
      process.exitCode = outcome.exitCode;
    });

  local
    .command('drift')
    .description('Run one drift sweep: plan every applied target at its last applied commit (no lock, nothing applied), then show the drift report')
    .requiredOption('--config <file>', 'the tfstep YAML config')
    .requiredOption('--repo <dir>', 'the local git repository (the infrastructure repository)')
    .option('--account <name...>', 'sweep only these accounts')
    .option('--state-dir <dir>', 'where runs, queues, artifacts and logs are kept', DEFAULT_STATE_DIR)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExit codes: 0 nothing drifted, 1 a target drifted or could not be planned, 2 bad input (config, repository, account).\n')
    .action(async (opts: { config: string; repo: string; account?: string[]; stateDir: string; json?: boolean }) => {
      const outcome = await localDrift({ configFile: opts.config, repoDir: opts.repo, accounts: opts.account, stateDir: opts.stateDir, json: opts.json });
      process.exitCode = outcome.exitCode;
    });

  local
    .command('demo')
    .description('Create the example infrastructure repository and push it through the pipeline (npm start)')
    .option('--yes', 'approve prod automatically instead of asking')
    .option('--state-dir <dir>', 'where the demo repository, runs and logs are kept', DEFAULT_STATE_DIR)
    .option('--json', 'print one final JSON document on stdout')
    .option('--ui-port <n>', 'the port of the dashboard on 127.0.0.1 while the demo runs (taken: any free port)', '8790')
    .option('--no-ui', 'serve no dashboard while the demo runs')
    .action(async (opts: { yes?: boolean; stateDir: string; json?: boolean; uiPort: string; ui: boolean }) => {
      const stateDir = path.resolve(opts.stateDir);
      // The dashboard shares the demo's run table; with --json stdout carries the JSON only.
      const dashboard = opts.ui && !opts.json ? await serveLocalDashboard({ stateDir, configFile: EXAMPLE_CONFIG, port: port(opts.uiPort) }) : undefined;
      try {
        const outcome = await localDemo({ yes: opts.yes, stateDir: opts.stateDir, json: opts.json, dashboardUrl: dashboard ? `${dashboard.url}/` : undefined });
        process.exitCode = outcome.exitCode;
      } finally {
        await dashboard?.close();
      }
    });

  local
    .command('replay')
    .description('Run an execution of the state directory again with its original input (already applied modules are skipped)')
    .argument('<execution>', 'the execution name (or its ARN)')
    .option('--config <file>', 'use this config instead of the one the execution ran with')
    .option('--approve <mode>', 'answer approvals: prompt, auto, reject', 'prompt')
    .option('--state-dir <dir>', 'the state directory', DEFAULT_STATE_DIR)
    .option('--json', 'print one final JSON document on stdout')
    .action(async (execution: string, opts: { config?: string; approve: string; stateDir: string; json?: boolean }) => {
      const outcome = await localReplay({ execution, configFile: opts.config, approve: parseApproveMode(opts.approve), stateDir: opts.stateDir, json: opts.json });
      process.exitCode = outcome.exitCode;
    });

  local
    .command('serve')
    .description('Serve the webhook, the approval pages, the runs and the dashboard (at /) on 127.0.0.1; pushes start local executions')
    .requiredOption('--config <file>', 'the tfstep YAML config')
    .option('--port <n>', 'the port on 127.0.0.1 (0: any free port)', '8787')
    .option('--state-dir <dir>', 'the state directory', DEFAULT_STATE_DIR)
    .addHelpText('after', '\nThe webhook secret comes from the environment variable TFSTEP_WEBHOOK_SECRET.\n')
    .action(async (opts: { config: string; port: string; stateDir: string }) => {
      await serveUntilStopped(await localServe({ configFile: opts.config, port: port(opts.port), stateDir: opts.stateDir, pages: localDashboardPages }));
    });
}
