/**
 * What every operator command resolves first: the config file, the AWS settings (region,
 * partition, profile, the state machine ARN) or the local state directory, and the run table.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ApprovalStore } from '../approval/store';
import { loadConfig } from '../config/loader';
import type { Config } from '../config/schema';
import { PARTITION_PATTERN } from '../domain/arns';
import { names, stateMachineArn } from '../domain/names';
import { StateDirLockedError } from '../local/engine/errors';
import { DEFAULT_STATE_DIR, openLocalStore } from '../local/engine/store';
import { RunStore } from '../store/run-store';
import { BadOptionError, OperatorError } from './errors';
import type { RunRecords } from './run-records';
import { runRecordsFromStores } from './store-adapter';

/** Options shared by the operator commands. */
export interface CommonOptions {
  readonly config?: string;
  readonly region?: string;
  readonly partition?: string;
  readonly profile?: string;
  readonly local?: boolean;
  readonly stateDir?: string;
}

/** The config files tried, in order, when `--config` is not given. */
export const DEFAULT_CONFIG_FILES = ['tfstep.yaml', 'examples/tfstep.yaml'];

/** The config file to read: `--config`, else the first default that exists. */
export function resolveConfigFile(file: string | undefined, cwd = process.cwd()): string {
  if (file) return resolve(cwd, file);
  for (const candidate of DEFAULT_CONFIG_FILES) {
    const path = resolve(cwd, candidate);
    if (existsSync(path)) return path;
  }
  throw new OperatorError(`no config file: none of ${DEFAULT_CONFIG_FILES.join(', ')} exists in ${cwd}; pass --config FILE`);
}

/** Loads the config; throws ConfigError listing every problem. */
export function loadOperatorConfig(file: string | undefined, cwd = process.cwd()): Config {
  return loadConfig(resolveConfigFile(file, cwd));
}

/** The config if one can be found; the local mode works without one. */
export function loadOptionalConfig(file: string | undefined, cwd = process.cwd()): Config | undefined {
  if (file) return loadOperatorConfig(file, cwd);
  return DEFAULT_CONFIG_FILES.some((f) => existsSync(resolve(cwd, f))) ? loadOperatorConfig(undefined, cwd) : undefined;
}

/** Resolved AWS settings of the central account. */
export interface AwsSettings {
  readonly region: string;
  readonly partition: string;
  readonly profile?: string;
  readonly stateMachineArn: string;
}

const REGION = /^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/;

/** `--region` (default: the config's central region), `--partition` (default `aws`), `--profile`. */
export function awsSettings(config: Config, opts: CommonOptions): AwsSettings {
  const partition = opts.partition ?? 'aws';
  if (!PARTITION_PATTERN.test(partition)) throw new BadOptionError('--partition', partition, 'an AWS partition such as aws, aws-us-gov or aws-cn');
  const region = opts.region ?? config.central.region;
  if (!REGION.test(region)) throw new BadOptionError('--region', region, 'an AWS region such as us-east-1');
  return { region, partition, profile: opts.profile, stateMachineArn: stateMachineArn(partition, config.central.region, config.central.account) };
}

/** SDK client settings for the central account. */
export function clientConfig(settings: Pick<AwsSettings, 'region' | 'profile'>): { region: string; profile?: string } {
  return settings.profile ? { region: settings.region, profile: settings.profile } : { region: settings.region };
}

/** The run table, opened for reading, and how to let go of it. */
export interface OpenRecords {
  readonly records: RunRecords;
  readonly close: () => Promise<void>;
}

/** The run table of the central account (`tfstep-runs`). */
export function awsRecords(settings: AwsSettings): OpenRecords {
  const client = new DynamoDBClient(clientConfig(settings));
  const runs = RunStore.fromClient(client, names.runTable());
  const approvals = new ApprovalStore(runs.doc, names.runTable());
  return {
    records: runRecordsFromStores(runs, approvals),
    close: () => Promise.resolve(client.destroy()),
  };
}

/** The state directory of `--local` (default `.tfstep`). */
export function stateDirOf(opts: CommonOptions, cwd = process.cwd()): string {
  return resolve(cwd, opts.stateDir ?? DEFAULT_STATE_DIR);
}

async function openLocalRecords(stateDir: string): Promise<OpenRecords> {
  const store = await openLocalStore(stateDir);
  const runs = new RunStore(store.docClient, store.tableName);
  const approvals = new ApprovalStore(store.docClient, store.tableName);
  return { records: runRecordsFromStores(runs, approvals), close: () => store.close() };
}

/** Whether an error says the process serving the local table is gone. */
function connectionLost(err: unknown): boolean {
  const e = err as { code?: unknown; cause?: { code?: unknown }; message?: unknown };
  const codes = [e.code, e.cause?.code];
  return codes.some((c) => c === 'ECONNREFUSED' || c === 'ECONNRESET') || /\bECONNREFUSED\b|\bECONNRESET\b/.test(typeof e.message === 'string' ? e.message : '');
}

/**
 * The run table of the local mode, in the state directory. While another tfstep process holds
 * the directory the table is read through that process; when it ends (its run finished, say,
 * while `logs --follow` watches), the files are free again and are reopened here.
 */
export async function localRecords(stateDir: string, options: { reopenTries?: number; reopenDelayMs?: number } = {}): Promise<OpenRecords> {
  if (!existsSync(stateDir)) {
    throw new OperatorError(`the state directory ${stateDir} does not exist; run \`tfstep local run\` first, or pass --state-dir DIR`);
  }
  let open = await openLocalRecords(stateDir);
  const reopen = async (): Promise<void> => {
    await open.close().catch(() => undefined);
    const tries = options.reopenTries ?? 50;
    for (let i = 1; ; i++) {
      try {
        open = await openLocalRecords(stateDir);
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
    close: () => open.close(),
  };
}
