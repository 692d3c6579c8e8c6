/**
 * ARNs one side of the installation builds for the other, and the AWS partition. CDK cannot
 * pass references between accounts, so the central stack, the account stacks, the pipeline steps
 * and the operator CLI derive them from the config and {@link names}. In CDK `partition` is the
 * stack's `${AWS::Partition}` token (`Stack.of(this).partition`); elsewhere {@link partitionOf}.
 */
import type { AccountConfig, Config } from '../config/schema';
import { names, stateMachineArn } from './names';

/** What an AWS partition name looks like (`aws`, `aws-cn`, `aws-us-gov`, `aws-iso-b`). */
export const PARTITION_PATTERN = /^aws(-[a-z]+)*$/;

/** The AWS partition of a region (`aws`, `aws-cn`, `aws-us-gov`, ISO partitions). */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  if (region.startsWith('us-isob-')) return 'aws-iso-b';
  if (region.startsWith('us-iso-')) return 'aws-iso';
  return 'aws';
}

/** The ARN of an IAM role by name (IAM is global: no region). */
export function roleArn(partition: string, account: string, roleName: string): string {
  return `arn:${partition}:iam::${account}:role/${roleName}`;
}

/** The central state machine's role: the only principal a launcher role trusts. */
export function centralStateMachineRoleArn(partition: string, config: Config): string {
  return roleArn(partition, config.central.account, names.stateMachineRole(config.central.region));
}

/** The central state machine: the `sts:ExternalId` every launcher role requires. */
export function centralStateMachineArn(partition: string, config: Config): string {
  return stateMachineArn(partition, config.central.region, config.central.account);
}

/** The launcher role in a target account. */
export function launcherRoleArn(partition: string, config: Config, account: AccountConfig): string {
  return roleArn(partition, account.id, names.launcherRole(config.central.region));
}

/** The plan and apply task roles in a target account: the only writers of its artifacts prefix. */
export function runnerRoleArns(partition: string, config: Config, account: AccountConfig): { plan: string; apply: string } {
  return {
    plan: roleArn(partition, account.id, names.planRole(config.central.region)),
    apply: roleArn(partition, account.id, names.applyRole(config.central.region)),
  };
}

/** The central notifications topic. */
export function centralTopicArn(partition: string, config: Config): string {
  return `arn:${partition}:sns:${config.central.region}:${config.central.account}:${names.topic()}`;
}
