/**
 * Deterministic names shared by the central stack, the account stacks and the functions that
 * build ARNs at run time. CDK cannot pass references between accounts, so both sides derive
 * the same names from the config. Each name includes the central region, so a second
 * installation in another region never collides (a known pain of per-account runners).
 */
export const names = {
  /** ECS cluster in each target account (in the central region). */
  cluster: (centralRegion: string) => `tfstep-${centralRegion}`,
  /** Task definition families in each target account. */
  planTaskFamily: (centralRegion: string) => `tfstep-plan-${centralRegion}`,
  applyTaskFamily: (centralRegion: string) => `tfstep-apply-${centralRegion}`,
  /** The role the state machine assumes in each target account. */
  launcherRole: (centralRegion: string) => `tfstep-launcher-${centralRegion}`,
  planRole: (centralRegion: string) => `tfstep-plan-${centralRegion}`,
  /** DynamoDB table in each target account: the SHA-256 of every plan its own plan task made. */
  planRecordsTable: (centralRegion: string) => `tfstep-plan-records-${centralRegion}`,
  applyRole: (centralRegion: string) => `tfstep-apply-${centralRegion}`,
  /** The central state machine's role and the state machine itself. */
  stateMachineRole: (centralRegion: string) => `tfstep-pipeline-${centralRegion}`,
  stateMachine: () => 'tfstep-pipeline',
  /** The plan-only state machine (drift sweeps, pull-request plans): same role, same launcher roles. */
  planOnlyStateMachine: () => 'tfstep-plan-only',
  /** The container name inside both runner task definitions. */
  runnerContainer: () => 'runner',
  artifactsBucket: (centralAccount: string, centralRegion: string) => `tfstep-artifacts-${centralAccount}-${centralRegion}`,
  /** The audit trail: S3 Object Lock in compliance mode, one object per record. */
  auditBucket: (centralAccount: string, centralRegion: string) => `tfstep-audit-${centralAccount}-${centralRegion}`,
  runTable: () => 'tfstep-runs',
  eventBus: () => 'tfstep',
  topic: () => 'tfstep-notifications',
  /** Where the central stack's alarms go; subscribe the people who operate tfstep. */
  alarmTopic: () => 'tfstep-alarms',
  centralStack: () => 'tfstep-central',
  accountStack: (accountName: string) => `tfstep-account-${accountName}`,
  /** The service-managed StackSet of the fleet's account stacks, and the stack that holds it. */
  fleetStackSet: () => 'tfstep-account-fleet',
  fleetStackSetStack: () => 'tfstep-fleet-stackset',
  /** CloudWatch Logs group of the runner tasks in each target account (awslogs driver). */
  runnerLogGroup: (centralRegion: string) => `/tfstep/runner-${centralRegion}`,
  /** The awslogs stream prefix: a task's stream is `<prefix>/<container>/<task id>`. */
  runnerLogStreamPrefix: () => 'tfstep',
};

/** The state machine ARN, the ExternalId every launcher role requires. */
export function stateMachineArn(partition: string, region: string, account: string): string {
  return `arn:${partition}:states:${region}:${account}:stateMachine:${names.stateMachine()}`;
}
