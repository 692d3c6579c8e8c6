/**
 * The one place the operator commands choose between AWS and a local state directory.
 * {@link openBackend} returns what a command reads and writes (run records, runs, approvals,
 * the task-token sender, a log reader) and the AWS-only operations (replay, doctor); a command
 * parses its options, opens a backend, calls it and prints.
 */
import { existsSync } from 'node:fs';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { approverForCaller, parseCallerArn } from '../approval/identity';
import { LocalAuditLog } from '../audit/local';
import { S3AuditLog } from '../audit/s3';
import { auditRecord, type AuditReader, type AuditWriter } from '../domain/audit';
import { ApprovalStore } from '../approval/store';
import { RecordOnlyTaskTokenSender, SfnTaskTokenSender } from '../approval/task-token';
import type { ApprovalView, TaskTokenSender } from '../approval/types';
import type { Config } from '../config/schema';
import type { DriftReport } from '../domain/drift';
import { names } from '../domain/names';
import { StateDirLockedError } from '../local/engine/errors';
import { liveOwner } from '../local/engine/session';
import { DEFAULT_STATE_DIR, openLocalStore } from '../local/engine/store';
import { replayExecution, type ReplayOutcome } from '../replay/replay';
import { RunStore } from '../store/run-store';
import { awsSettings, clientConfig, loadOperatorConfig, loadOptionalConfig, resolveConfigFile, stateDirOf, type AwsSettings, type CommonOptions } from './context';
import { fleetListing, type FleetOutput } from './fleet';
import { fleetFileReader, localFleetFile } from '../fleet/fleet-file';
import { awsOrganizationsReader, organizationsClientFor } from '../fleet/organizations';
import type { FleetRefreshRecord } from '../fleet/registry';
import { refreshFleet } from '../pipeline/fleet';
import { runDoctor, type DoctorReport } from './doctor';
import { BadOptionError, OperatorError } from './errors';
import { AwsLogReader, LocalLogReader, type LogReader, type RunnerTask } from './logs';
import type { RunRecords } from './run-records';
import { PullRequestRuns } from './pull-requests';
import { AwsRunsSource, LocalRunsSource, type RunsSource } from './runs';
import { runRecordsFromStores } from './store-adapter';

/** What {@link openBackend} needs: the shared options, and whether the command decides approvals. */
export interface BackendOptions extends CommonOptions {
  /**
   * Set by the commands that decide an approval. In AWS the decider is the caller's STS identity,
   * so `as` is refused; with `--local` there are no credentials to ask and `as` is required.
   * A deciding command needs no config in the local mode.
   */
  readonly decide?: { readonly as?: string };
}

/** Options of {@link Backend.logReader}. */
export interface LogReaderOptions {
  /** `ACCOUNT=PROFILE` pairs (AWS): the profile that reads an account's CloudWatch Logs. */
  readonly profileFor?: readonly string[];
  /** Milliseconds between polls with `--follow`. */
  readonly pollMs?: number;
}

/** Where the operator commands read and write: AWS, or a local state directory. */
export interface Backend {
  readonly mode: 'aws' | 'local';
  /** The config: always there in AWS; in the local mode only when a config file was found. */
  readonly config: Config | undefined;
  /** The run table as the operator reads it. */
  readonly records: RunRecords;
  /** Runs and their details for `tfstep runs` and `tfstep show`. */
  readonly runs: RunsSource;
  /** Pull request runs for `tfstep runs --pull-requests` and `tfstep show`. */
  readonly pullRequests: PullRequestRuns;
  /** Approvals in the run table. */
  readonly approvals: ApprovalStore;
  /** Completes a decided approval's step: Step Functions in AWS; locally the waiting process does. */
  readonly tasks: TaskTokenSender;
  /**
   * Refuses a decision nothing is waiting for. In AWS the execution waits on its task token; in
   * the local mode only a live tfstep process settles an approval, so without one the decision
   * would apply nothing.
   */
  refuseUnwaited(approval: ApprovalView): void;
  /** Who is deciding `approval`, as one of its approvers (needs {@link BackendOptions.decide}). */
  approverFor(approval: ApprovalView): Promise<string>;
  /**
   * The audit trail: the audit bucket in AWS (read with ListObjectsV2 and GetObject), the state
   * directory's audit.jsonl locally. Decisions made through this backend are appended here.
   */
  readonly audit: AuditWriter & AuditReader;
  /** Reads the runner tasks' logs of an execution. */
  logReader(options?: LogReaderOptions): LogReader;
  /** Redrives or restarts a failed run (AWS only). */
  replay(execution: string, options?: { readonly dryRun?: boolean }): Promise<ReplayOutcome>;
  /** Checks the AWS installation (AWS only). */
  doctor(): Promise<DoctorReport>;
  /** `tfstep fleet`: the accounts runs deploy, where each came from, what was applied there. */
  fleet(): Promise<FleetOutput>;
  /** `tfstep drift`: the drift report the last sweep left, of one account when given. */
  drift(account?: string): Promise<DriftReport>;
  /** `tfstep fleet refresh`: reads Organizations (or, locally, the fleet file) into the registry now. */
  refreshFleet(options?: { readonly fleetFile?: string }): Promise<FleetRefreshRecord>;
  /** Lets go of every client and the local store. */
  close(): Promise<void>;
}

/** Opens the backend `opts` ask for: `--local` (with `--state-dir`) or the central AWS account. */
export async function openBackend(opts: BackendOptions): Promise<Backend> {
  return opts.local ? openLocal(opts) : openAws(opts);
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

/** The options the user gave that every command hinted at needs too, each quoted for a shell when needed. */
export function hintOptions(opts: CommonOptions): string {
  const quote = (v: string) => (/^[A-Za-z0-9_./:@=+-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`);
  // Defaults need not be repeated.
  const pairs: [string, string | undefined][] = opts.local
    ? [['--state-dir', opts.stateDir === DEFAULT_STATE_DIR ? undefined : opts.stateDir], ['--config', opts.config]]
    : [['--config', opts.config], ['--profile', opts.profile], ['--region', opts.region], ['--partition', opts.partition === 'aws' ? undefined : opts.partition]];
  return pairs.map(([flag, value]) => (value === undefined ? '' : ` ${flag} ${quote(value)}`)).join('');
}

type Destroyable = { destroy(): void };
type ClientClass<T extends Destroyable> = new (config: { region: string; profile?: string }) => T;

/** SDK clients made on first use, one per kind, region and profile, all destroyed on close. */
class AwsClients {
  private readonly made = new Map<ClientClass<Destroyable>, Map<string, Destroyable>>();

  constructor(private readonly settings: AwsSettings) {}

  /** A client of the central account, or of `at` (a region and profile) when given. */
  get<T extends Destroyable>(Client: ClientClass<T>, at?: { region: string; profile?: string }): T {
    const config = clientConfig(at ?? this.settings);
    const key = `${config.region}/${config.profile ?? ''}`;
    const ofKind = this.made.get(Client) ?? new Map<string, Destroyable>();
    this.made.set(Client, ofKind);
    let client = ofKind.get(key);
    if (!client) {
      client = new Client(config);
      ofKind.set(key, client);
    }
    return client as T;
  }

  destroy(): void {
    for (const ofKind of this.made.values()) for (const c of ofKind.values()) c.destroy();
    this.made.clear();
  }
}

function needConfig(config: Config | undefined, what: string): Config {
  if (!config) throw new OperatorError(`${what} needs the config: pass --config FILE`);
  return config;
}

function awsOnly(what: string): Promise<never> {
  return Promise.reject(new OperatorError(`${what} is not available with --local`));
}

function openAws(opts: BackendOptions): Backend {
  if (opts.decide?.as) throw new OperatorError('--as is only for --local; in AWS your identity comes from your credentials (STS GetCallerIdentity)');
  const config = loadOperatorConfig(opts.config);
  const settings = awsSettings(config, opts);
  const clients = new AwsClients(settings);
  const store = RunStore.fromClient(clients.get(DynamoDBClient), names.runTable());
  const approvals = new ApprovalStore(store.doc, names.runTable());
  const records = runRecordsFromStores(store, approvals);
  const audit = new S3AuditLog(clients.get(S3Client), names.auditBucket(config.central.account, config.central.region));
  const callerArn = async (): Promise<string> => {
    const who = await clients.get(STSClient).send(new GetCallerIdentityCommand({}));
    if (!who.Arn) throw new OperatorError('STS GetCallerIdentity returned no ARN; cannot tell who is deciding');
    return who.Arn;
  };
  return {
    mode: 'aws',
    audit,
    config,
    records,
    pullRequests: new PullRequestRuns(store, config),
    runs: new AwsRunsSource({ sfn: clients.get(SFNClient), records, config, stateMachineArn: settings.stateMachineArn, hintOptions: hintOptions(opts) }),
    approvals,
    tasks: new SfnTaskTokenSender(clients.get(SFNClient)),
    refuseUnwaited: () => undefined,
    // Policy owners decide too (an override of a deny); decide() holds who may do what.
    approverFor: async (approval) => approverForCaller(parseCallerArn(await callerArn()), [...approval.approvers, ...(approval.policy?.owners ?? [])]),
    logReader: (options = {}) => {
      const profiles = parseProfileFor(options.profileFor ?? []);
      const profileOf = (task: RunnerTask): string | undefined => profiles.get(task.account) ?? profiles.get(task.accountId) ?? settings.profile;
      // A task's account: its logs and ECS need credentials there, in the task's region.
      const inAccount = (task: RunnerTask) => ({ region: task.region || config.central.region, profile: profileOf(task) });
      return new AwsLogReader({
        sfn: clients.get(SFNClient),
        s3: clients.get(S3Client),
        config,
        stateMachineArn: settings.stateMachineArn,
        // Pull request plans run in the plan-only state machine, beside the pipeline's.
        planOnlyStateMachineArn: settings.stateMachineArn.replace(/:stateMachine:[^:]+$/, `:stateMachine:${names.planOnlyStateMachine()}`),
        logsFor: (task) => clients.get(CloudWatchLogsClient, inAccount(task)),
        ecsFor: (task) => clients.get(ECSClient, inAccount(task)),
        credentialsHint: (task) =>
          `pass --profile-for ${task.account}=<profile> with a profile of account ${task.accountId} allowed logs:GetLogEvents on ${names.runnerLogGroup(config.central.region)}` +
          ' (and ecs:DescribeTasks for --follow)',
        pollMs: options.pollMs,
      });
    },
    replay: async (execution, options = {}) => {
      const outcome = await replayExecution(clients.get(SFNClient), {
        execution,
        stateMachineArn: settings.stateMachineArn,
        dryRun: options.dryRun,
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
      if (!outcome.dryRun) await auditReplay(audit, store, outcome, await callerArn());
      return outcome;
    },
    doctor: () =>
      runDoctor({
        config,
        partition: settings.partition,
        sts: clients.get(STSClient),
        iam: clients.get(IAMClient),
        sfn: clients.get(SFNClient),
        secrets: clients.get(SecretsManagerClient),
        sns: clients.get(SNSClient),
        // Launcher-role credentials: a client per assumed role, not kept.
        ecsWith: (credentials, region) => new ECSClient({ region, credentials }),
      }),
    fleet: () => fleetListing(config, store),
    drift: (account) => store.planOnly.report(config.repositories.map((r) => r.fullName), account),
    refreshFleet: async () => {
      const org = config.fleet?.organizations;
      if (!org) throw new OperatorError('the config has no fleet.organizations: there is no organization to read (docs/fleet.md)');
      // The operator's own credentials assume the Organizations role, as the schedule's function does.
      const reader = awsOrganizationsReader(organizationsClientFor(org.roleArn, config.central.region, clients.get(STSClient)));
      return refreshFleet({ config, store, reader, from: 'organizations', clock: () => new Date() });
    },
    close: () => Promise.resolve(clients.destroy()),
  };
}

/**
 * Appends a replay to the audit trail. Written once Step Functions accepted it (a refused
 * replay changed nothing); a failed write is reported with what did happen.
 */
async function auditReplay(audit: AuditWriter, store: RunStore, outcome: ReplayOutcome, who: string): Promise<void> {
  const run = await store.getRunIdentity(outcome.execution);
  try {
    await audit.append(
      auditRecord({
        kind: 'redrive',
        who,
        channel: 'cli',
        run: outcome.execution,
        ...(run ? { repository: run.repository, branch: run.branch, commit: run.commit } : {}),
        outcome: outcome.action,
        detail: outcome.action === 'start' ? `started as ${outcome.newExecutionName ?? 'a new execution'}: ${outcome.reason}` : outcome.reason,
      }),
    );
  } catch (e) {
    throw new OperatorError(`the ${outcome.action === 'redrive' ? 'redrive' : 'new execution'} of ${outcome.execution} started, but its audit record could not be written: ${(e as Error).message}`);
  }
}

/** The local run table as opened once: its stores and how to let go of it. */
interface LocalTable {
  readonly records: RunRecords;
  /** The run table itself (the fleet registry and target records). */
  readonly store: RunStore;
  readonly approvals: ApprovalStore;
  readonly close: () => Promise<void>;
}

function requireStateDir(stateDir: string): void {
  if (!existsSync(stateDir)) {
    throw new OperatorError(`the state directory ${stateDir} does not exist; run \`tfstep local run\` first, or pass --state-dir DIR`);
  }
}

async function openLocalTable(stateDir: string): Promise<LocalTable> {
  const store = await openLocalStore(stateDir);
  const approvals = new ApprovalStore(store.docClient, store.tableName);
  const runStore = new RunStore(store.docClient, store.tableName);
  return { records: runRecordsFromStores(runStore, approvals), store: runStore, approvals, close: () => store.close() };
}

/** Whether an error says the process serving the local table is gone. */
function connectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown }; message?: unknown };
  const codes = [e.code, e.cause?.code];
  return codes.some((c) => c === 'ECONNREFUSED' || c === 'ECONNRESET') || /\bECONNREFUSED\b|\bECONNRESET\b/.test(typeof e.message === 'string' ? e.message : '');
}

/** Options of {@link localTable}. */
export interface LocalTableOptions {
  /** @default 50 */
  readonly reopenTries?: number;
  /** @default 100 */
  readonly reopenDelayMs?: number;
}

/**
 * The run table of the local mode, in the state directory. While another tfstep process holds
 * the directory the table is read through that process; when it ends (its run finished, say,
 * while `logs --follow` watches), the files are free again and the run records are reopened here.
 */
export async function localTable(stateDir: string, options: LocalTableOptions = {}): Promise<LocalTable> {
  requireStateDir(stateDir);
  let open = await openLocalTable(stateDir);
  const reopen = async (): Promise<void> => {
    await open.close().catch(() => undefined);
    const tries = options.reopenTries ?? 50;
    for (let i = 1; ; i++) {
      try {
        open = await openLocalTable(stateDir);
        return;
      } catch (err) {
        // The ending process may still hold its lock for a moment after its server closed.
        if (!(err instanceof StateDirLockedError) || i >= tries) throw err;
        await new Promise((r) => setTimeout(r, options.reopenDelayMs ?? 100));
      }
    }
  };
  const read = async <T>(query: (records: RunRecords) => Promise<T>): Promise<T> => {
    try {
      return await query(open.records);
    } catch (err) {
      if (!connectionLost(err)) throw err;
      await reopen();
      return query(open.records);
    }
  };
  return {
    records: { getRun: (execution) => read((r) => r.getRun(execution)), listRuns: (o) => read((r) => r.listRuns(o)) },
    get approvals() {
      return open.approvals;
    },
    get store() {
      return open.store;
    },
    close: () => open.close(),
  };
}

async function openLocal(opts: BackendOptions): Promise<Backend> {
  const config = opts.decide ? undefined : loadOptionalConfig(opts.config);
  const stateDir = stateDirOf(opts);
  requireStateDir(stateDir);
  const as = opts.decide?.as;
  if (opts.decide && !as) throw new OperatorError("with --local, pass --as EMAIL (one of the stage's approvers): there are no AWS credentials to tell who you are");
  const table = await localTable(stateDir);
  const records = table.records;
  return {
    mode: 'local',
    audit: new LocalAuditLog(stateDir),
    config,
    records,
    runs: new LocalRunsSource(records, config, undefined, hintOptions(opts)),
    // A getter: the local table may be reopened, with a new store.
    get pullRequests() {
      return new PullRequestRuns(table.store, config);
    },
    get approvals() {
      return table.approvals;
    },
    // The waiting `tfstep local` process follows the record and settles its own step.
    tasks: new RecordOnlyTaskTokenSender(),
    refuseUnwaited: (approval) => {
      if (approval.status === 'PENDING' && !liveOwner(stateDir, approval.executionName)) {
        const flag = opts.stateDir ? ` --state-dir ${opts.stateDir}` : '';
        throw new OperatorError(
          `nothing is waiting for this decision: no tfstep process runs ${approval.executionName} any more (it was stopped, or its process is gone), so an approval would apply nothing. ` +
            `Run it again with \`tfstep local replay ${approval.executionName}${flag}\` and decide at its prompt`,
        );
      }
    },
    approverFor: () => (as ? Promise.resolve(as) : Promise.reject(new OperatorError('with --local, pass --as EMAIL to decide an approval'))),
    logReader: (options = {}) => new LocalLogReader({ stateDir, records, config, pollMs: options.pollMs }),
    replay: () => awsOnly('tfstep replay (use tfstep local replay)'),
    doctor: () => awsOnly('tfstep doctor'),
    fleet: () => fleetListing(needConfig(config, 'tfstep fleet'), table.store),
    drift: (account) => table.store.planOnly.report(needConfig(config, 'tfstep drift').repositories.map((r) => r.fullName), account),
    refreshFleet: (options = {}) => {
      const cfg = needConfig(config, 'tfstep fleet refresh');
      const file = localFleetFile(resolveConfigFile(opts.config), cfg, options.fleetFile);
      if (!file) return Promise.reject(new OperatorError('no fleet file: set fleet.file in the config or pass --fleet-file FILE'));
      return refreshFleet({ config: cfg, store: table.store, reader: fleetFileReader(file), from: 'file', clock: () => new Date() });
    },
    close: () => table.close(),
  };
}
