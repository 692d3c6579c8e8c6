/**
 * A run of any size written through the real run store, as the pipeline writes one: three stages
 * (dev, stage, prod in three waves), prod's approval decided by one approver, dev applied with a
 * replacement, prod's first wave applied, one account of its second wave failed with its reason,
 * the rest running or not started. The dashboard's browser test, its screenshots and the
 * benchmark's render row all read it.
 */
import { ApprovalStore } from '../lib/approval/store';
import { mapLimit } from '../lib/domain/concurrency';
import type { RunStore } from '../lib/store/run-store';

/** What {@link seedDashboardRun} wrote. */
export interface SeededRun {
  readonly execution: string;
  /** The failed account. */
  readonly failed: string;
  /** An account of prod's second wave still running: a test can finish it. */
  readonly running: string;
  readonly stages: readonly { readonly name: string; readonly accounts: readonly { readonly name: string; readonly modules: readonly string[]; readonly wave?: number }[] }[];
}

export const DASHBOARD_REPO = 'acme/infrastructure-live';
const COMMIT = '4f1c2e9ab7d35c08e6f1a2b3c4d5e6f708192a3b';
const T0 = Date.parse('2026-11-30T09:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

/** Writes the run `execution` with `accounts` accounts (at least 10) into `store`. */
export async function seedDashboardRun(store: RunStore, opts: { execution: string; accounts: number }): Promise<SeededRun> {
  const n = Math.max(10, opts.accounts);
  const names = Array.from({ length: n }, (_, i) => `acct-${String(i + 1).padStart(5, '0')}`);
  const devCount = Math.max(1, Math.round(n * 0.05));
  const stageCount = Math.max(1, Math.round(n * 0.15));
  const dev = names.slice(0, devCount);
  const stage = names.slice(devCount, devCount + stageCount);
  const prod = names.slice(devCount + stageCount);
  const secondWave = Math.max(2, Math.round(prod.length * 0.1));
  const prodAccounts = prod.map((name, i) => ({ name, modules: ['core/network'], ...(i === 0 ? {} : { wave: i <= secondWave ? 1 : 2 }) }));
  const stages = [
    { name: 'dev', accounts: dev.map((name) => ({ name, modules: ['core/network', 'core/app'] })) },
    { name: 'stage', accounts: stage.map((name) => ({ name, modules: ['core/network'] })) },
    { name: 'prod', accounts: prodAccounts },
  ];
  const wave2 = prodAccounts.filter((a) => a.wave === 1);
  const failed = wave2[0]!.name;
  const running = wave2[wave2.length - 1]!.name;

  await store.createRun({
    execution: opts.execution,
    executionId: `arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:${opts.execution}`,
    repository: DASHBOARD_REPO,
    branch: 'main',
    commit: COMMIT,
    sequence: `${at(0)}#${COMMIT}`,
    status: 'RUNNING',
    pusher: 'dana@example.com',
    startedAt: at(0),
    input: '{}',
  });
  await store.putPlannedStages(opts.execution, stages);
  await store.updateRun(opts.execution, { currentStage: 'prod' });

  type Result = Parameters<RunStore['putModuleResult']>[0];
  const results: Result[] = [];
  const base = { execution: opts.execution, commit: COMMIT };
  for (const account of dev) {
    results.push({ ...base, account, module: 'core/network', phase: 'plan-and-apply', status: 'applied', plan: { add: 2, change: 1, destroy: 0, deleted: [], replaced: [] }, startedAt: at(10), finishedAt: at(70) });
    results.push({
      ...base,
      account,
      module: 'core/app',
      phase: 'plan-and-apply',
      status: 'applied',
      plan: { add: 1, change: 0, destroy: 2, deleted: ['aws_s3_bucket.legacy_logs'], replaced: ['aws_instance.bastion'] },
      startedAt: at(70),
      finishedAt: at(130),
    });
  }
  for (const account of stage) {
    results.push({ ...base, account, module: 'core/network', phase: 'plan-and-apply', status: 'applied', plan: { add: 0, change: 1, destroy: 0, deleted: [], replaced: [] }, startedAt: at(200), finishedAt: at(260) });
  }
  for (const a of prodAccounts) {
    const plan = { add: 0, change: 1, destroy: 0, deleted: [], replaced: [] };
    results.push({ ...base, account: a.name, module: 'core/network', phase: 'plan', status: 'planned', plan, planSha256: 'e'.repeat(64), startedAt: at(300), finishedAt: at(340) });
    if (a.wave === undefined) results.push({ ...base, account: a.name, module: 'core/network', phase: 'apply', status: 'applied', plan, startedAt: at(600), finishedAt: at(660) });
    else if (a.name === failed) {
      results.push({
        ...base,
        account: a.name,
        module: 'core/network',
        phase: 'apply',
        status: 'failed',
        error: 'terraform apply exited 1: Error: creating EC2 NAT Gateway: NatGatewayLimitExceeded: The maximum number of NAT gateways has been reached.',
        startedAt: at(700),
        finishedAt: at(760),
      });
    } else if (a.wave === 1) {
      const done = a.name !== running && prodAccounts.indexOf(a) % 2 === 0;
      results.push({ ...base, account: a.name, module: 'core/network', phase: 'apply', status: done ? 'applied' : 'running', plan, startedAt: at(700), ...(done ? { finishedAt: at(770) } : {}) });
    }
  }
  await mapLimit(results, 16, (r) => store.putModuleResult(r));
  await store.setAccountOutcome(opts.execution, 'prod', {
    account: failed,
    ok: false,
    phase: 'apply',
    modules: [],
    reason: 'module core/network failed: terraform apply exited 1 (NatGatewayLimitExceeded); the account has no NAT gateway left in us-east-1',
    wave: 1,
  });

  const approvals = new ApprovalStore(store.doc, store.tableName);
  await approvals.create({
    approvalId: `${opts.execution}-prod`,
    executionId: `arn:aws:states:us-east-1:111111111111:execution:tfstep-pipeline:${opts.execution}`,
    executionName: opts.execution,
    stage: 'prod',
    status: 'APPROVED',
    requiredApprovals: 1,
    approvers: ['alice@example.com', 'bob@example.com'],
    allowSelfApproval: false,
    pusher: 'dana@example.com',
    push: { repository: DASHBOARD_REPO, commit: COMMIT, branch: 'main', message: 'Raise the NAT gateway count' },
    createdAt: at(345),
    deadline: Math.floor(T0 / 1000) + 86_400,
    items: { bucket: 'tfstep-artifacts', key: `${opts.execution}/_stages/2/apply.json`, count: prodAccounts.length, sha256: 'f'.repeat(64) },
    summaries: [],
    omittedAccounts: 0,
    totals: { accounts: prodAccounts.length, modules: prodAccounts.length, add: 0, change: prodAccounts.length, destroy: 0, unreadable: 0 },
    decisions: { 'alice@example.com': { approver: 'alice@example.com', decision: 'approve', comment: 'NAT change reviewed', at: at(590), via: 'link' } },
    taskToken: 'token',
    tokenHash: 'e'.repeat(64),
  });
  return { execution: opts.execution, failed, running, stages };
}
