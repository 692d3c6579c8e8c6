/**
 * What every operator command resolves first: the config file, the AWS settings (region,
 * partition, profile, the state machine ARN) or the local state directory. ./backend.ts opens
 * the run table and clients from them.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../config/loader';
import type { Config } from '../config/schema';
import { PARTITION_PATTERN } from '../domain/arns';
import { stateMachineArn } from '../domain/names';
import { DEFAULT_STATE_DIR } from '../local/engine/store';
import { BadOptionError, OperatorError } from './errors';

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

/** The state directory of `--local` (default `.tfstep`). */
export function stateDirOf(opts: CommonOptions, cwd = process.cwd()): string {
  return resolve(cwd, opts.stateDir ?? DEFAULT_STATE_DIR);
}
