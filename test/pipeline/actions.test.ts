import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalAuditLog } from '../../lib/audit/local';
import { createPipelineHandler } from '../../lib/pipeline/handler';
import type { AccountItem, AccountOutcome, AdmitResult, StageItem, TargetsResult } from '../../lib/statemachine/contracts';
import { readItems, writeItems } from '../../lib/statemachine/items';
import type { StageCompleteResult } from '../../lib/pipeline/stage-complete';
import { classifyFailure } from '../../lib/pipeline/classify-failure';
import { EXIT } from '../../lib/domain/runner-contract';
import { InvalidRequestError, LockLostError } from '../../lib/pipeline/errors';
import { capAddresses } from '../../lib/domain/plan-summary';
import { MAX_POLICY_ADDRESSES, MAX_POLICY_FINDINGS } from '../../lib/domain/runner-contract';
import { OUTCOME_MAX_BYTES } from '../../lib/pipeline/record-account';
import { accountItem, stageItem } from '../../lib/pipeline/targets';
import type { RunStore } from '../../lib/store';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, envelope, executionId, makeHarness, pushOf, TestRepo, type Harness } from '../fixtures/pipeline/harness';

let db: DynaliteTable;
let store: RunStore;
let h: Harness;
let repo: TestRepo;
let c0: string;
let c1: string;
const config = testConfig();

beforeAll(async () => {
  db = await startDynalite();
  // GIVEN a real repository: a first commit with every module, a second changing dev/app only
  repo = new TestRepo();
  c0 = repo.commit(baseFiles(), 'base');
  c1 = repo.commit({ 'dev/us-east-1/app/main.tf': 'a1' }, 'app change');
});
afterAll(async () => {
  repo.remove();
  await db.close();
});
beforeEach(async () => {
  store = await db.freshStore();
  h = makeHarness(config, store, repo.dir);
});

const input = () => envelope(pushOf(c0, c1, '2026-11-20T10:00:01.000Z', ['dev/us-east-1/app/main.tf']));

async function admitted(name = 'e1'): Promise<AdmitResult> {
  h.running.add(executionId(name));
  return (await h.handler({ action: 'admit', input: input(), executionId: executionId(name), executionName: name, startedAt: '2026-11-20T10:00:02.000Z' })) as AdmitResult;
}

const taskFailure = (exitCode: number | undefined, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ TaskArn: 'arn:aws:ecs:us-east-1:222222222222:task/c/abc', StopCode: 'EssentialContainerExited', Containers: [{ Name: 'runner', ...(exitCode === undefined ? {} : { ExitCode: exitCode }) }], ...extra });

describe('targets', () => {
  it('plans every module on the first run, with AWS items built from the config', async () => {
    // GIVEN an admitted run and nothing applied yet
    const run = await admitted();
    // WHEN targets runs
    const res = (await h.handler({ action: 'targets', input: input(), run, executionName: 'e1' })) as TargetsResult;
    // THEN every stage is there in order, with launcher role, cluster, task families and network
    expect(res.stageCount).toBe(3);
    expect(res.source).toEqual({ repository: 'https://github.com/acme/live.git', commit: c1, ref: 'refs/heads/main' });
    const dev = res.stages[0]!;
    expect(dev).toMatchObject({ name: 'dev', index: 0, concurrency: 5, approval: { required: false }, resultsPrefix: 'e1/_stages/0/results' });
    // AND each stage's accounts are written to the artifacts store, where its Distributed Maps read them
    expect(dev.accounts).toMatchObject({ bucket: h.artifacts.bucket, key: 'e1/_stages/0/accounts.json', count: 1 });
    const items = await Promise.all(res.stages.map((s) => readItems(h.artifacts, s.accounts)));
    expect(items[0]![0]).toEqual({
      name: 'dev',
      id: '222222222222',
      stage: 'dev',
      region: 'us-east-1',
      launcherRoleArn: 'arn:aws:iam::222222222222:role/tfstep-launcher-us-east-1',
      cluster: 'tfstep-us-east-1',
      planTaskDefinition: 'tfstep-plan-us-east-1',
      applyTaskDefinition: 'tfstep-apply-us-east-1',
      network: { subnets: ['subnet-0123456789abcdef0'], securityGroups: ['sg-0123456789abcdef0'], assignPublicIp: 'ENABLED' },
      timeoutSeconds: 7200,
      wave: 0,
      modules: ['dev/us-east-1/app', 'dev/us-east-1/network'],
      phase: 'plan-and-apply',
      taskDefinition: 'tfstep-apply-us-east-1',
      approvedPlans: {},
      manifest: { key: 'accounts/dev/e1/plan-and-apply.manifest.json', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    // AND the account's runner manifest is under its own prefix, bound by the SHA-256 its item carries
    const manifest = (await h.artifacts.get('accounts/dev/e1/plan-and-apply.manifest.json'))!;
    expect(createHash('sha256').update(manifest).digest('hex')).toBe(items[0]![0]!.manifest!.sha256);
    expect(JSON.parse(manifest.toString('utf8'))).toEqual({ account: 'dev', execution: 'e1', phase: 'plan-and-apply', modules: ['dev/us-east-1/app', 'dev/us-east-1/network'] });
    // AND a stage without approval starts with plan-and-apply over its accounts; one with approval plans first, on the read-only task definition
    expect(dev.phase).toEqual({ name: 'plan-and-apply', items: dev.accounts, wave: { index: 0, count: 1, all: dev.accounts } });
    expect(res.stages[2]!.phase).toEqual({ name: 'plan', items: res.stages[2]!.accounts, wave: { index: 0, count: 1, all: res.stages[2]!.accounts } });
    expect(items[2]![0]).toMatchObject({ phase: 'plan', taskDefinition: 'tfstep-plan-us-east-1', approvedPlans: {} });
    expect(items[1]![0]!.network).toEqual({ subnets: [], securityGroups: [], assignPublicIp: 'DISABLED' });
    expect(res.stages[2]!.approval).toEqual({ required: true, approvers: ['ops@example.com'], minApprovals: 1, allowSelfApproval: false, timeoutSeconds: 7200 });
    expect((await store.getRunRecord('e1'))?.stages?.map((s) => s.name)).toEqual(['dev', 'stage', 'prod']);
    // AND subscribers hear that the run started
    expect(h.published).toHaveLength(1);
    expect(h.published[0]!.subject).toBe(`tfstep: started: acme/live main ${c1.slice(0, 7)}`);
    expect(h.published[0]!.attributes).toMatchObject({ status: 'STARTED', execution: 'e1', commit: c1 });
  });

  it('plans only what changed since each target last applied commit, and reports removed modules', async () => {
    // GIVEN every module applied at c0, and a module that no longer exists
    for (const [account, module] of [
      ['dev', 'dev/us-east-1/app'],
      ['dev', 'dev/us-east-1/network'],
      ['staging', 'staging/us-east-1/app'],
      ['staging', 'staging/us-east-1/network'],
      ['prod', 'prod/eu-west-1/app'],
      ['prod', 'prod/eu-west-1/network'],
      ['prod', 'prod/eu-west-1/gone'],
    ] as const) {
      await store.recordApplied({ repository: 'acme/live', account, module, commit: c0, sequence: `2026-11-19T00:00:00.000Z#${c0}`, execution: 'e0' });
    }
    const run = await admitted();
    const res = (await h.handler({ action: 'targets', input: input(), run, executionName: 'e1' })) as TargetsResult;
    const planned = await Promise.all(res.stages.map(async (s) => `${s.name}:${(await readItems(h.artifacts, s.accounts)).map((a) => a.modules.join(',')).join(';')}`));
    expect(planned).toEqual(['dev:dev/us-east-1/app']);
    expect(res.removed).toEqual([{ account: 'prod', module: 'prod/eu-west-1/gone', lastAppliedCommit: c0 }]);
  });

  it('fails when the run does not hold its branch', async () => {
    const run = await admitted();
    await store.releaseLock('acme/live', 'main', 'e1');
    await expect(h.handler({ action: 'targets', input: input(), run, executionName: 'e1' })).rejects.toThrow(LockLostError);
  });
});

describe('targets with module dependencies', () => {
  it("writes each account's dependencies and module concurrency into its item and runner manifest, and runs the dependents of a change", async () => {
    // GIVEN app depends on network, four modules at once, and every module applied at c0
    const withDeps = testConfig({ dependsOn: [{ module: 'app', on: ['network'] }], runner: { moduleConcurrency: 4 } });
    h = makeHarness(withDeps, store, repo.dir);
    for (const module of ['dev/us-east-1/app', 'dev/us-east-1/network']) {
      await store.recordApplied({ repository: 'acme/live', account: 'dev', module, commit: c0, sequence: `2026-11-19T00:00:00.000Z#${c0}`, execution: 'e0' });
    }
    // AND a push that changes only dev's network
    const c2 = repo.commit({ 'dev/us-east-1/network/main.tf': 'n2' }, 'network change');
    const push = envelope(pushOf(c1, c2, '2026-11-20T10:00:05.000Z', ['dev/us-east-1/network/main.tf']));
    h.running.add(executionId('e2'));
    const run = (await h.handler({ action: 'admit', input: push, executionId: executionId('e2'), executionName: 'e2', startedAt: '2026-11-20T10:00:06.000Z' })) as AdmitResult;
    // WHEN targets runs
    const res = (await h.handler({ action: 'targets', input: push, run, executionName: 'e2' })) as TargetsResult;
    // THEN dev runs network and its dependent app, app after network
    const dev = (await readItems(h.artifacts, res.stages[0]!.accounts))[0]!;
    expect(dev).toMatchObject({ modules: ['dev/us-east-1/app', 'dev/us-east-1/network'], dependencies: { 'dev/us-east-1/app': ['dev/us-east-1/network'] }, moduleConcurrency: 4 });
    const manifest = JSON.parse((await h.artifacts.get('accounts/dev/e2/plan-and-apply.manifest.json'))!.toString('utf8')) as unknown;
    expect(manifest).toEqual({
      account: 'dev',
      execution: 'e2',
      phase: 'plan-and-apply',
      modules: ['dev/us-east-1/app', 'dev/us-east-1/network'],
      dependencies: { 'dev/us-east-1/app': ['dev/us-east-1/network'] },
      moduleConcurrency: 4,
    });
  });

  it('fails before planning anything when the dependencies form a cycle, naming it', async () => {
    const cyclic = testConfig({
      dependsOn: [
        { module: 'app', on: ['network'] },
        { module: 'network', on: ['app'] },
      ],
    });
    h = makeHarness(cyclic, store, repo.dir);
    const run = await admitted();
    await expect(h.handler({ action: 'targets', input: input(), run, executionName: 'e1' })).rejects.toThrow(
      /account dev: the dependencies form a cycle: dev\/us-east-1\/app -> dev\/us-east-1\/network -> dev\/us-east-1\/app/,
    );
    expect(await h.artifacts.get('e1/_stages/0/accounts.json')).toBeUndefined();
  });
});

describe('record-account', () => {
  const account = () => accountItem(config, config.accounts[0]!, ['dev/us-east-1/app', 'dev/us-east-1/network']);
  const source = () => ({ repository: 'https://github.com/acme/live.git', commit: c1, ref: 'refs/heads/main' });
  const result = (module: string, status: 'applied' | 'failed' | 'skipped' | 'planned', phase: 'plan' | 'apply' | 'plan-and-apply' = 'plan-and-apply') => ({
    module,
    account: 'dev',
    commit: c1,
    phase,
    status,
    startedAt: '2026-11-20T10:01:00.000Z',
    finishedAt: '2026-11-20T10:02:00.000Z',
    ...(status === 'failed' ? { error: 'terraform apply exited with code 1' } : {}),
    ...(status === 'planned' ? { planSha256: 'a'.repeat(64), plan: { add: 1, change: 0, destroy: 0, deleted: [], replaced: [] } } : {}),
  });

  it('records module results and moves applied targets to the commit', async () => {
    await admitted();
    h.artifacts.writeResult('e1', result('dev/us-east-1/app', 'applied'));
    h.artifacts.writeResult('e1', result('dev/us-east-1/network', 'applied'));
    const out = (await h.handler({ action: 'record-account', phase: 'plan-and-apply', ok: true, account: account(), source: source(), execution: 'e1', task: { taskArn: 't' } })) as AccountOutcome;
    expect(out).toEqual({ account: 'dev', ok: true, phase: 'plan-and-apply', modules: [{ path: 'dev/us-east-1/app', status: 'applied' }, { path: 'dev/us-east-1/network', status: 'applied' }] });
    expect((await store.getApplied('acme/live', 'dev', 'dev/us-east-1/app'))?.commit).toBe(c1);
    const detail = await store.getRun('e1');
    expect(detail?.modules.map((m) => `${m.module}:${m.status}`)).toEqual(['dev/us-east-1/app:applied', 'dev/us-east-1/network:applied']);
    expect(detail?.run.accounts.dev?.ok).toBe(true);
  });

  it('appends the account\'s apply to the audit trail once, though the step is retried, and a redriven apply again', async () => {
    // GIVEN an audit trail in a real file, and the account's results
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-audit-'));
    try {
      const audit = new LocalAuditLog(dir);
      let now = new Date('2026-11-20T12:00:00.000Z');
      const handler = createPipelineHandler({ ...h.deps, audit, clock: () => now });
      await admitted();
      h.artifacts.writeResult('e1', result('dev/us-east-1/app', 'applied'));
      h.artifacts.writeResult('e1', result('dev/us-east-1/network', 'failed'));
      const request = { action: 'record-account', phase: 'plan-and-apply', ok: false, account: account(), source: source(), execution: 'e1', task: { taskArn: 't' } };
      // WHEN the record step runs, and runs again a minute later (Step Functions retried it)
      await handler(request);
      now = new Date('2026-11-20T12:01:00.000Z');
      await handler(request);
      // THEN the trail has the apply once, at the time the last module finished
      const once = (await audit.list({})).filter((r) => r.kind === 'apply');
      expect(once.map((r) => [r.at, r.outcome, r.accounts])).toEqual([['2026-11-20T10:02:00.000Z', 'failed', ['dev']]]);
      // WHEN the account is applied again (a redrive), its modules finishing later
      h.artifacts.writeResult('e1', { ...result('dev/us-east-1/network', 'applied'), finishedAt: '2026-11-20T13:05:00.000Z' });
      h.artifacts.writeResult('e1', { ...result('dev/us-east-1/app', 'applied'), finishedAt: '2026-11-20T13:04:00.000Z' });
      await handler({ ...request, ok: true });
      // THEN that apply is a record of its own
      expect((await audit.list({})).filter((r) => r.kind === 'apply').map((r) => [r.at, r.outcome])).toEqual([
        ['2026-11-20T10:02:00.000Z', 'failed'],
        ['2026-11-20T13:05:00.000Z', 'succeeded'],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps the modules applied earlier in the run when a re-plan round records the account again', async () => {
    // GIVEN network applied and app held back for a new approval in the first apply
    await admitted();
    await store.setAccountOutcome('e1', 'dev', {
      account: 'dev',
      ok: true,
      phase: 'apply',
      modules: [
        { path: 'dev/us-east-1/app', status: 'awaiting-approval' },
        { path: 'dev/us-east-1/network', status: 'applied' },
      ],
    });
    // WHEN the next round's task, which runs app alone, is recorded
    h.artifacts.writeResult('e1', result('dev/us-east-1/app', 'applied', 'apply'));
    const appOnly = accountItem(config, config.accounts[0]!, ['dev/us-east-1/app']);
    const out = (await h.handler({ action: 'record-account', phase: 'apply', ok: true, account: appOnly, source: source(), execution: 'e1' })) as AccountOutcome;
    // THEN the account's outcome has both modules applied, and the run record counts both
    expect(out.modules).toEqual([
      { path: 'dev/us-east-1/app', status: 'applied' },
      { path: 'dev/us-east-1/network', status: 'applied' },
    ]);
    expect((await store.getRunRecord('e1'))?.accounts.dev?.modules.map((m) => `${m.path}:${m.status}`)).toEqual(['dev/us-east-1/app:applied', 'dev/us-east-1/network:applied']);
  });

  it('reports a failed task with the failed module and its cause; applied siblings still move forward', async () => {
    await admitted();
    h.artifacts.writeResult('e1', result('dev/us-east-1/app', 'applied'));
    h.artifacts.writeResult('e1', result('dev/us-east-1/network', 'failed'));
    const out = (await h.handler({
      action: 'record-account',
      phase: 'plan-and-apply',
      ok: false,
      account: account(),
      source: source(),
      execution: 'e1',
      error: { Error: 'States.TaskFailed', Cause: taskFailure(1) },
    })) as AccountOutcome;
    expect(out.ok).toBe(false);
    expect(out.reason).toBe('the runner task failed (States.TaskFailed: exit code 1); dev/us-east-1/network failed: terraform apply exited with code 1');
    expect((await store.getApplied('acme/live', 'dev', 'dev/us-east-1/app'))?.commit).toBe(c1);
    expect(await store.getApplied('acme/live', 'dev', 'dev/us-east-1/network')).toBeUndefined();
  });

  it('records a skipped module with the upstream it waited for, in the outcome and in the run table', async () => {
    await admitted();
    h.artifacts.writeResult('e1', result('dev/us-east-1/network', 'failed'));
    h.artifacts.writeResult('e1', { ...result('dev/us-east-1/app', 'skipped'), skippedBecause: 'dev/us-east-1/network', error: 'not run: dev/us-east-1/network failed' });
    const out = (await h.handler({ action: 'record-account', phase: 'plan-and-apply', ok: false, account: account(), source: source(), execution: 'e1' })) as AccountOutcome;
    expect(out.modules.find((m) => m.path === 'dev/us-east-1/app')).toEqual({ path: 'dev/us-east-1/app', status: 'skipped', skippedBecause: 'dev/us-east-1/network' });
    const detail = await store.getRun('e1');
    expect(detail?.modules.find((m) => m.module === 'dev/us-east-1/app')).toMatchObject({ status: 'skipped', skippedBecause: 'dev/us-east-1/network' });
  });

  it('counts a module without a result for this phase as not run, even when the task said ok', async () => {
    await admitted();
    // a plan-phase result left in place: the key has no phase
    h.artifacts.writeResult('e1', result('dev/us-east-1/app', 'planned', 'plan'));
    const out = (await h.handler({ action: 'record-account', phase: 'plan-and-apply', ok: true, account: account(), source: source(), execution: 'e1' })) as AccountOutcome;
    expect(out.ok).toBe(false);
    expect(out.modules.map((m) => m.status)).toEqual(['not-run', 'not-run']);
    expect(out.reason).toMatch(/dev\/us-east-1\/app not-run: no result was written/);
  });

  it('keeps the outcome of an account whose re-planned modules delete thousands of resources small enough for one item and one state', async () => {
    // GIVEN two modules held back for a new approval, each re-plan listing the most differences
    // allowed and long addresses (as a runner writes them: lists capped, differences at most 51)
    await admitted();
    const long = (i: number) => `module.fleet["${'k'.repeat(180)}-${i}"].aws_instance.this`;
    const summary = () => ({ add: 0, change: 0, destroy: 5000, deleted: capAddresses(Array.from({ length: 5000 }, (_, i) => long(i))), replaced: [] });
    for (const module of ['dev/us-east-1/app', 'dev/us-east-1/network']) {
      h.artifacts.writeResult('e1', {
        ...result(module, 'applied', 'apply'),
        status: 'awaiting-approval',
        replan: { planSha256: 'b'.repeat(64), plan: summary(), approvedSha256: 'a'.repeat(64), approvedPlan: summary(), differences: Array.from({ length: 51 }, (_, i) => `${long(i)}: ${'x'.repeat(1800)}`) },
        // and a deny from every one of the most findings a module keeps, each naming the most addresses
        policy: {
          status: 'deny',
          findings: Array.from({ length: MAX_POLICY_FINDINGS }, (_, f) => ({ rule: `rule-${f}`, kind: 'protect', effect: 'deny', message: 'm'.repeat(1000), addresses: [...Array.from({ length: MAX_POLICY_ADDRESSES }, (_, i) => long(i)), '... and 4950 more'] })),
        },
      });
    }
    // WHEN the apply is recorded
    const out = (await h.handler({ action: 'record-account', phase: 'apply', ok: true, account: account(), source: source(), execution: 'e1' })) as AccountOutcome;
    // THEN the outcome fits its budget, far under DynamoDB's 400 KB item and Step Functions' 256 KiB state
    expect(Buffer.byteLength(JSON.stringify(out))).toBeLessThanOrEqual(OUTCOME_MAX_BYTES);
    // AND the counts stay exact while the lists say how many they leave out
    const replan = out.modules[0]!.replan!;
    expect(replan.plan.destroy).toBe(5000);
    expect(replan.plan.deleted.at(-1)).toMatch(/^\.\.\. and \d+ more$/);
    expect(Number(/(\d+) more/.exec(replan.plan.deleted.at(-1)!)![1]) + replan.plan.deleted.length - 1).toBe(5000);
    // AND the policy verdict and its findings stay, each naming fewer addresses and counting the rest
    const policy = out.modules[0]!.policy!;
    expect(policy.status).toBe('deny');
    expect(policy.findings).toHaveLength(MAX_POLICY_FINDINGS);
    const first = policy.findings[0]!.addresses;
    expect(Number(/(\d+) more/.exec(first.at(-1)!)![1]) + first.length - 1).toBe(MAX_POLICY_ADDRESSES + 4950);
    // AND the stored outcome is the same one
    expect((await store.getRunRecord('e1'))?.accounts.dev?.modules[0]?.replan?.plan.destroy).toBe(5000);
    // AND each module's record fits one item too (dynalite refuses items over 400 KB, as DynamoDB does)
    const stored = (await store.getRun('e1'))!.modules;
    expect(stored.map((m) => [m.module, m.status, m.replan?.plan.destroy, m.policy?.status])).toEqual([
      ['dev/us-east-1/app', 'awaiting-approval', 5000, 'deny'],
      ['dev/us-east-1/network', 'awaiting-approval', 5000, 'deny'],
    ]);
  });

  it('fails when the run is unknown', async () => {
    await expect(h.handler({ action: 'record-account', phase: 'plan', ok: true, account: account(), source: source(), execution: 'ghost' })).rejects.toThrow(/run ghost is not in the run table/);
  });
});

describe('check-lease', () => {
  const check = (execution: string, generation: number) => h.handler({ action: 'check-lease', execution, account: 'dev', generation });

  it('lets the run holding its branch at its admission generation start a task', async () => {
    const run = await admitted();
    expect(run.generation).toBe(1);
    await expect(check('e1', 1)).resolves.toEqual({ generation: 1 });
  });

  it('fails when the run no longer holds its branch, was re-admitted under another generation, or ended', async () => {
    // GIVEN e1 admitted at generation 1
    await admitted();
    // WHEN its task carries a stale generation THEN nothing may start
    await expect(check('e1', 0)).rejects.toThrow('was admitted with lease generation 1, the task carries 0');
    // WHEN it lost the branch (released as stale and taken by another run)
    await store.releaseLock('acme/live', 'main', 'e1');
    await expect(check('e1', 1)).rejects.toThrow('the branch is free at lease generation 1, not by this run at generation 1');
    // WHEN it was marked aborted
    await store.finishRun('e1', 'ABORTED', { reason: 'stopped' });
    await expect(check('e1', 1)).rejects.toMatchObject({ name: 'LeaseLostError', message: expect.stringContaining('the run is ABORTED; nothing was started') });
    // AND an unknown run is refused too
    await expect(check('nobody', 1)).rejects.toThrow('the run is not in the run table');
  });
});

describe('classify-failure', () => {
  const acc = () => accountItem(config, config.accounts[0]!, ['dev/us-east-1/app']);
  it.each([
    ['an infrastructure failure (exit 4)', taskFailure(4), 0, true, 30],
    ['an infrastructure failure on the second attempt', taskFailure(4), 1, true, 60],
    ['a task that never started', taskFailure(undefined, { StopCode: 'TaskFailedToStart', StoppedReason: 'CannotPullContainerError: pull access denied' }), 0, true, 30],
  ])('retries %s', (_n, cause, attempt, retry, delay) => {
    const res = classifyFailure({ action: 'classify-failure', account: acc(), attempt, error: { Error: 'States.TaskFailed', Cause: cause } });
    expect(res).toMatchObject({ retry, delaySeconds: delay });
  });

  it('reads the camelCase spelling of the task description too', () => {
    const cause = JSON.stringify({ containers: [{ name: 'runner', exitCode: 4 }] });
    expect(classifyFailure({ action: 'classify-failure', account: acc(), attempt: 0, error: { Error: 'States.TaskFailed', Cause: cause } })).toMatchObject({ retry: true, exitCode: 4 });
  });

  it.each([
    ['a terraform failure (exit 1)', 'States.TaskFailed', taskFailure(1), 1],
    ['a refusal (exit 3)', 'States.TaskFailed', taskFailure(3), 3],
    ['a timeout', 'States.Timeout', undefined, null],
  ])('never retries %s', (_n, error, cause, exitCode) => {
    const res = classifyFailure({ action: 'classify-failure', account: acc(), attempt: 0, error: { Error: error, Cause: cause } });
    expect(res).toMatchObject({ retry: false, delaySeconds: 0, exitCode });
  });

  it('classifies an interrupted runner (exit 5: it was stopped and terraform released its lock) as interrupted, never retried', () => {
    const cause = taskFailure(EXIT.INTERRUPTED, { StopCode: 'UserInitiated', StoppedReason: 'Task stopped by user' });
    const res = classifyFailure({ action: 'classify-failure', account: acc(), attempt: 0, error: { Error: 'States.TaskFailed', Cause: cause } });
    expect(res).toMatchObject({ retry: false, kind: 'interrupted', exitCode: EXIT.INTERRUPTED });
    expect(res.reason).toBe('the runner in dev was interrupted (Task stopped by user): terraform stopped gracefully and released its lock; replay the run to finish');
  });

  it.each([
    [taskFailure(1), 'terraform'],
    [taskFailure(3), 'refused'],
    [taskFailure(4), 'infra'],
    [taskFailure(137), 'other'],
  ])('names the kind of each failure', (cause, kind) => {
    expect(classifyFailure({ action: 'classify-failure', account: acc(), attempt: 0, error: { Error: 'States.TaskFailed', Cause: cause } }).kind).toBe(kind);
  });

  it('gives up after three attempts', () => {
    const res = classifyFailure({ action: 'classify-failure', account: acc(), attempt: 2, error: { Error: 'States.TaskFailed', Cause: taskFailure(4) } });
    expect(res.retry).toBe(false);
    expect(res.reason).toMatch(/gave up after 3 attempts/);
  });
});

describe('account items', () => {
  it('fails when a plan item would run on the apply task definition, or a plan carries approved plans', async () => {
    // GIVEN plan items tampered with after targets built them
    const good = accountItem(config, config.accounts[2]!, ['prod/eu-west-1/app'], 'plan');
    const onApplyRole = { ...good, taskDefinition: good.applyTaskDefinition };
    const withPlans = { ...good, approvedPlans: { 'prod/eu-west-1/app': '1'.repeat(64) } };
    // WHEN they are written and read back THEN the reader refuses each, saying why
    for (const [item, why] of [
      [onApplyRole, 'a plan item must run tfstep-plan-us-east-1, not tfstep-apply-us-east-1'],
      [withPlans, 'only an apply item carries approved plans, not a plan item'],
    ] as const) {
      const location = await writeItems(h.artifacts, 'e1/_stages/2/accounts.json', [item], 'e1');
      await expect(readItems(h.artifacts, location)).rejects.toThrow(why);
    }
    // AND the untampered item reads back as it was written, with where its runner manifest is
    const [back] = await readItems(h.artifacts, await writeItems(h.artifacts, 'e1/_stages/2/accounts.json', [good], 'e1'));
    expect(back).toEqual({ ...good, manifest: { key: 'accounts/prod/e1/plan.manifest.json', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  });
});

describe('stage-complete', () => {
  const prodGraph = { account: 'prod', root: 'prod/eu-west-1', modules: ['prod/eu-west-1/app', 'prod/eu-west-1/network'], dependencies: { 'prod/eu-west-1/app': ['prod/eu-west-1/network'] } };
  const prodItem = () => accountItem(config, config.accounts[2]!, ['prod/eu-west-1/app', 'prod/eu-west-1/network'], 'plan', prodGraph);
  const stageWith = async (items: AccountItem[]): Promise<StageItem> =>
    stageItem(config, 'e1', 2, 'prod', await writeItems(h.artifacts, 'e1/_stages/2/accounts.json', items, 'e1'));
  const gate = (stage: StageItem, phase: 'plan' | 'apply' | 'plan-and-apply', run: AdmitResult) =>
    h.handler({ action: 'stage-complete', phase, stage, items: stage.accounts, execution: 'e1', run }) as Promise<StageCompleteResult>;

  it("reads each account's recorded outcome and writes the apply items with the hashes of the plans just made", async () => {
    const run = await admitted();
    const stage = await stageWith([prodItem()]);
    await store.setAccountOutcome('e1', 'prod', {
      account: 'prod',
      ok: true,
      phase: 'plan',
      modules: [
        { path: 'prod/eu-west-1/app', status: 'planned', planSha256: '1'.repeat(64) },
        { path: 'prod/eu-west-1/network', status: 'planned', planSha256: '2'.repeat(64) },
      ],
    });
    const res = await gate(stage, 'plan', run);
    expect(res).toMatchObject({ failed: false, failedCount: 0, applyItems: { bucket: h.artifacts.bucket, key: 'e1/_stages/2/apply.json', count: 1 } });
    const applyItems = await readItems(h.artifacts, res.applyItems!);
    expect(applyItems[0]!.approvedPlans).toEqual({ 'prod/eu-west-1/app': '1'.repeat(64), 'prod/eu-west-1/network': '2'.repeat(64) });
    // AND the apply task's manifest carries those hashes, for the runner to read in the account
    expect(applyItems[0]!.manifest?.key).toBe('accounts/prod/e1/apply.manifest.json');
    const applyManifest = JSON.parse((await h.artifacts.get('accounts/prod/e1/apply.manifest.json'))!.toString('utf8')) as { phase: string; approvedPlans: unknown };
    expect(applyManifest).toMatchObject({ phase: 'apply', approvedPlans: { 'prod/eu-west-1/app': '1'.repeat(64), 'prod/eu-west-1/network': '2'.repeat(64) } });
    // AND they run the same account Map as the apply phase, on the apply task definition
    expect(applyItems[0]).toMatchObject({ phase: 'apply', taskDefinition: 'tfstep-apply-us-east-1' });
    // AND the apply keeps the plan's module order: its manifest carries the same dependencies
    expect(applyItems[0]!.dependencies).toEqual({ 'prod/eu-west-1/app': ['prod/eu-west-1/network'] });
    expect(applyManifest).toMatchObject({ dependencies: { 'prod/eu-west-1/app': ['prod/eu-west-1/network'] } });
    // AND subscribers hear that the stage awaits approval, with the command to decide
    expect(h.published).toHaveLength(1);
    expect(h.published[0]!.attributes).toMatchObject({ status: 'AWAITING_APPROVAL', stage: 'prod' });
    expect(h.published[0]!.text).toContain('decide with: tfstep approve e1');
    expect((await store.getRunRecord('e1'))?.currentStage).toBe('prod');
  });

  it('fails the stage naming the account, the module and the cause', async () => {
    const run = await admitted();
    const stage = await stageWith([prodItem()]);
    await store.setAccountOutcome('e1', 'prod', {
      account: 'prod',
      ok: false,
      phase: 'plan',
      modules: [{ path: 'prod/eu-west-1/app', status: 'failed' }],
      reason: 'prod/eu-west-1/app failed: terraform plan exited with code 1',
    });
    const res = await gate(stage, 'plan', run);
    expect(res).toMatchObject({ failed: true, failedAccounts: ['prod'], failedCount: 1 });
    expect(res.applyItems).toBeUndefined();
    expect(res.reason).toBe('stage prod plan failed in 1 of 1 account(s): account prod (prod/eu-west-1/app failed): prod/eu-west-1/app failed: terraform plan exited with code 1');
  });

  it('fails the stage when an account has no outcome of this phase', async () => {
    // GIVEN an account whose latest outcome is its plan, not its apply
    const run = await admitted();
    const stage = await stageWith([prodItem()]);
    await store.setAccountOutcome('e1', 'prod', { account: 'prod', ok: true, phase: 'plan', modules: [{ path: 'prod/eu-west-1/app', status: 'planned' }] });
    const res = await gate(stage, 'apply', run);
    expect(res.failed).toBe(true);
    expect(res.reason).toMatch(/account prod: no outcome was recorded/);
  });

  it('names at most 20 failed accounts of a large stage and counts them all', async () => {
    // GIVEN a stage of 300 accounts, 250 of which failed
    const run = await admitted();
    const base = prodItem();
    const items = Array.from({ length: 300 }, (_, i) => ({ ...base, name: `acct-${String(i).padStart(3, '0')}` }));
    const stage = await stageWith(items);
    await Promise.all(
      items.map((item, i) =>
        store.setAccountOutcome('e1', 'prod', { account: item.name, ok: i >= 250, phase: 'plan-and-apply', modules: [{ path: 'prod/eu-west-1/app', status: i >= 250 ? 'applied' : 'failed' }] }),
      ),
    );
    const res = await gate(stage, 'plan-and-apply', run);
    // THEN the answer stays small: 20 names, the full count, and a reason that says how many more
    expect(res).toMatchObject({ failed: true, failedCount: 250 });
    expect(res.failedAccounts).toHaveLength(20);
    expect(res.reason).toMatch(/^stage prod failed in 250 of 300 account\(s\): account acct-000 /);
    expect(res.reason).toMatch(/; and 230 more account\(s\)$/);
  });

  it('refuses an item list that changed after it was written', async () => {
    const run = await admitted();
    const stage = await stageWith([prodItem()]);
    await h.artifacts.put(stage.accounts.key, JSON.stringify([{ ...prodItem(), launcherRoleArn: 'arn:aws:iam::999999999999:role/elsewhere' }]));
    await expect(gate(stage, 'plan-and-apply', run)).rejects.toThrow(/item list e1\/_stages\/2\/accounts.json changed after it was written: SHA-256 [0-9a-f]{64}, expected [0-9a-f]{64}/);
  });
});

describe('finish', () => {
  it('records the failure, releases the branch and notifies with the failed module and the replay command', async () => {
    // GIVEN an admitted run whose dev account failed
    await admitted();
    await store.setAccountOutcome('e1', 'dev', { account: 'dev', ok: false, phase: 'plan-and-apply', modules: [{ path: 'dev/us-east-1/app', status: 'failed' }], reason: 'terraform apply exited with code 1' });
    const outcome = { status: 'FAILED', error: { Error: 'StageFailed', Cause: 'stage dev failed: account dev (dev/us-east-1/app failed): terraform apply exited with code 1' } };
    // WHEN finish runs with the outcome alone
    const res = await h.handler({ action: 'finish', outcome, executionId: executionId('e1'), executionName: 'e1' });
    // THEN
    expect(res).toEqual({ status: 'FAILED', reason: 'stage dev failed: account dev (dev/us-east-1/app failed): terraform apply exited with code 1' });
    expect(await store.getRunRecord('e1')).toMatchObject({ status: 'FAILED' });
    expect((await store.getLock('acme/live', 'main')).holder).toBeUndefined();
    expect(await store.listQueue('acme/live', 'main')).toEqual([]);
    expect(h.published).toHaveLength(1);
    expect(h.published[0]!.subject).toBe(`tfstep: FAILED: acme/live main ${c1.slice(0, 7)}`);
    expect(h.published[0]!.text).toContain('account dev, module dev/us-east-1/app\n    failed: terraform apply exited with code 1');
    expect(h.published[0]!.text).toMatch(/replay: +tfstep replay e1/);
    expect(h.published[0]!.attributes).toMatchObject({ status: 'FAILED', repository: 'acme/live' });
  });

  it('reads a Lambda error cause and reports an invalid input run without a record', async () => {
    const outcome = { status: 'FAILED', error: { Error: 'InvalidRequestError', Cause: JSON.stringify({ errorType: 'InvalidRequestError', errorMessage: 'the execution input is not a tfstep push event' }) } };
    const res = await h.handler({ action: 'finish', outcome, executionId: executionId('x'), executionName: 'x' });
    expect(res).toEqual({ status: 'FAILED', reason: 'InvalidRequestError: the execution input is not a tfstep push event' });
    expect(h.published[0]!.text).toMatch(/replay: +tfstep replay x/);
  });

  it('lists the accounts of a succeeded run in stage order, not alphabetically', async () => {
    // GIVEN a run that applied in prod, staging and dev (alphabetically: dev, prod, staging)
    await admitted();
    for (const [stage, account] of [['prod', 'prod'], ['stage', 'staging'], ['dev', 'dev']] as const) {
      await store.setAccountOutcome('e1', stage, { account, ok: true, phase: 'plan-and-apply', modules: [{ path: `${account}/app`, status: 'applied' }] });
    }
    // WHEN it finishes THEN the summary follows stageOrder: dev, stage, prod
    expect(await h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' })).toEqual({
      status: 'SUCCEEDED',
      reason: 'applied 3 module(s) in dev, staging, prod',
    });
  });

  it('names at most 20 accounts in the reason of a large succeeded run and counts the rest: the run item and the output stay small', async () => {
    // GIVEN a run that applied in 25 accounts of one stage
    await admitted();
    for (let i = 0; i < 25; i++) {
      const account = `acct-${String(i).padStart(2, '0')}`;
      await store.setAccountOutcome('e1', 'dev', { account, ok: true, phase: 'plan-and-apply', modules: [{ path: `${account}/app`, status: 'applied' }] });
    }
    // WHEN it finishes THEN 20 are named and 5 counted, on the answer and on the run item
    const res = (await h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' })) as { reason: string };
    expect(res.reason).toMatch(/^applied 25 module\(s\) in acct-00, acct-01, .*acct-19 and 5 more account\(s\)$/);
    expect((await store.getRunItem('e1'))?.reason).toBe(res.reason);
  });

  it('says what succeeded and expired runs did', async () => {
    await admitted();
    await store.setAccountOutcome('e1', 'dev', { account: 'dev', ok: true, phase: 'plan-and-apply', modules: [{ path: 'dev/us-east-1/app', status: 'applied' }] });
    expect(await h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' })).toEqual({ status: 'SUCCEEDED', reason: 'applied 1 module(s) in dev' });
    expect(h.published[0]!.text).not.toContain('replay');
    const expired = await h.handler({ action: 'finish', outcome: { status: 'EXPIRED', error: { Error: 'States.Timeout' }, stage: 'prod' }, executionId: executionId('e9'), executionName: 'e9' });
    expect(expired).toEqual({ status: 'EXPIRED', reason: 'the approval for stage prod expired; nothing was applied there' });
  });

  it('still finishes when the notification cannot be sent', async () => {
    await admitted();
    h.deps.notifier.publish = () => Promise.reject(new Error('SNS down'));
    await expect(h.handler({ action: 'finish', outcome: { status: 'SUCCEEDED' }, executionId: executionId('e1'), executionName: 'e1' })).resolves.toMatchObject({ status: 'SUCCEEDED' });
    expect((await store.getLock('acme/live', 'main')).holder).toBeUndefined();
  });
});

describe('handler', () => {
  it('fails when the payload is not a known action, saying what was wrong', async () => {
    await expect(h.handler({ action: 'launch' })).rejects.toThrow(InvalidRequestError);
    await expect(h.handler({ action: 'launch' })).rejects.toThrow(/action "launch" is invalid.*expected one of admit, enqueue, targets/);
    await expect(h.handler({ action: 'classify-failure', attempt: -1 })).rejects.toThrow(/account|attempt/);
  });
});
