import { ApprovalStore } from '../../lib/approval/store';
import type { RunStore } from '../../lib/store/run-store';

export const REPO = 'acme/infrastructure-live';
export const SHA_OK = 'a'.repeat(40);
export const SHA_FAILED = 'b'.repeat(40);
export const SHA_WAITING = 'c'.repeat(40);
const STAGES = [
  { name: 'dev', accounts: [{ name: 'dev', modules: ['dev/us-east-1/network'] }] },
  { name: 'stage', accounts: [{ name: 'stage', modules: ['stage/us-east-1/network'] }] },
  { name: 'prod', accounts: [{ name: 'prod', modules: ['prod/us-east-1/network', 'prod/us-east-1/app'] }] },
];

function baseRun(execution: string, commit: string, startedAt: string) {
  return {
    execution,
    executionId: `arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:${execution}`,
    repository: REPO,
    branch: 'main',
    commit,
    sequence: `${startedAt}#${commit}`,
    status: 'RUNNING' as const,
    pusher: 'dave',
    startedAt,
    input: '{}',
  };
}

/**
 * Three runs through the real stores: one succeeded, one failed in stage, one waiting for the
 * prod approval.
 */
export async function seedRuns(store: RunStore): Promise<void> {
  const approvals = new ApprovalStore(store.doc, store.tableName);

  await store.createRun(baseRun('run-ok', SHA_OK, '2026-11-20T10:00:00.000Z'));
  await store.updateRun('run-ok', { currentStage: 'prod', stages: STAGES });
  for (const [account, module, add] of [
    ['dev', 'dev/us-east-1/network', 1],
    ['stage', 'stage/us-east-1/network', 1],
  ] as const) {
    await store.putModuleResult({
      execution: 'run-ok',
      account,
      module,
      phase: 'plan-and-apply',
      status: 'applied',
      commit: SHA_OK,
      plan: { add, change: 0, destroy: 0, deleted: [], replaced: [] },
      startedAt: '2026-11-20T10:00:10.000Z',
      finishedAt: '2026-11-20T10:01:40.000Z',
    });
  }
  for (const module of ['prod/us-east-1/network', 'prod/us-east-1/app']) {
    await store.putModuleResult({
      execution: 'run-ok',
      account: 'prod',
      module,
      phase: 'apply',
      status: 'applied',
      commit: SHA_OK,
      plan: { add: 0, change: 2, destroy: 0, deleted: [], replaced: [] },
      startedAt: '2026-11-20T10:03:00.000Z',
      finishedAt: '2026-11-20T10:05:00.000Z',
    });
  }
  await store.finishRun('run-ok', 'SUCCEEDED', { finishedAt: '2026-11-20T10:05:30.000Z', reason: '' });

  await store.createRun(baseRun('run-failed', SHA_FAILED, '2026-11-21T09:00:00.000Z'));
  await store.updateRun('run-failed', { currentStage: 'stage', stages: STAGES });
  await store.putModuleResult({
    execution: 'run-failed',
    account: 'dev',
    module: 'dev/us-east-1/network',
    phase: 'plan-and-apply',
    status: 'applied',
    commit: SHA_FAILED,
    plan: { add: 0, change: 1, destroy: 0, deleted: [], replaced: [] },
    startedAt: '2026-11-21T09:00:10.000Z',
    finishedAt: '2026-11-21T09:01:00.000Z',
  });
  await store.putModuleResult({
    execution: 'run-failed',
    account: 'stage',
    module: 'stage/us-east-1/network',
    phase: 'plan-and-apply',
    status: 'failed',
    commit: SHA_FAILED,
    error: 'terraform apply exited 1: Error: creating EC2 VPC: UnauthorizedOperation',
    startedAt: '2026-11-21T09:01:10.000Z',
    finishedAt: '2026-11-21T09:02:00.000Z',
  });
  await store.finishRun('run-failed', 'FAILED', {
    finishedAt: '2026-11-21T09:02:30.000Z',
    reason: 'stage stage failed: account stage, module stage/us-east-1/network failed',
  });

  await store.createRun(baseRun('run-waiting', SHA_WAITING, '2026-11-22T08:00:00.000Z'));
  await store.updateRun('run-waiting', { currentStage: 'prod', stages: STAGES });
  for (const [account, module] of [
    ['dev', 'dev/us-east-1/network'],
    ['stage', 'stage/us-east-1/network'],
  ] as const) {
    await store.putModuleResult({
      execution: 'run-waiting',
      account,
      module,
      phase: 'plan-and-apply',
      status: 'applied',
      commit: SHA_WAITING,
      plan: { add: 0, change: 1, destroy: 0, deleted: [], replaced: [] },
      startedAt: '2026-11-22T08:00:10.000Z',
      finishedAt: '2026-11-22T08:01:25.000Z',
    });
  }
  await store.putModuleResult({
    execution: 'run-waiting',
    account: 'prod',
    module: 'prod/us-east-1/network',
    phase: 'plan',
    status: 'planned',
    commit: SHA_WAITING,
    plan: { add: 0, change: 0, destroy: 0, deleted: [], replaced: [] },
    planSha256: 'f'.repeat(64),
    startedAt: '2026-11-22T08:03:00.000Z',
    finishedAt: '2026-11-22T08:03:50.000Z',
  });
  await store.putModuleResult({
    execution: 'run-waiting',
    account: 'prod',
    module: 'prod/us-east-1/app',
    phase: 'plan',
    status: 'planned',
    commit: SHA_WAITING,
    plan: { add: 2, change: 1, destroy: 1, deleted: ['aws_s3_bucket.old'], replaced: [] },
    planSha256: 'd'.repeat(64),
    startedAt: '2026-11-22T08:03:00.000Z',
    finishedAt: '2026-11-22T08:04:00.000Z',
  });
  await approvals.create({
    approvalId: 'appr-1',
    executionId: baseRun('run-waiting', SHA_WAITING, '').executionId,
    executionName: 'run-waiting',
    stage: 'prod',
    status: 'PENDING',
    requiredApprovals: 1,
    approvers: ['alice@example.com', 'bob@example.com'],
    allowSelfApproval: false,
    pusher: 'dave',
    push: { repository: REPO, commit: SHA_WAITING, branch: 'main', message: 'grow the app' },
    createdAt: '2026-11-22T08:04:10.000Z',
    deadline: 1_900_000_000,
    items: { bucket: 'tfstep-artifacts-test', key: 'run-waiting/_stages/2/apply.json', count: 1, sha256: 'f'.repeat(64) },
    summaries: [],
    omittedAccounts: 0,
    totals: { accounts: 1, modules: 1, add: 1, change: 0, destroy: 0, unreadable: 0 },
    decisions: {},
    taskToken: 'token-that-never-shows',
    tokenHash: 'e'.repeat(64),
  });
}
