/**
 * ARNs one side of the installation builds for the other. CDK cannot pass references between
 * accounts, so the central stack and the account stacks derive them from the config and
 * {@link names}; `partition` is usually the stack's `${AWS::Partition}` token.
 */
import type { AccountConfig, Config } from '../config/schema';
import { names, stateMachineArn } from '../domain/names';

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
