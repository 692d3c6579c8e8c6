/**
 * Pull request plans in AWS: the pipeline function's handling of `Git Pull Request` events and of
 * a pull request run's finish step. Real run table (dynalite) and a real git repository; Step
 * Functions is a test double (aws-sdk-client-mock), the git host is the recording reporter.
 */
import { SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { PlanOnlyRequest } from '../../lib/domain/plan-only';
import { pullRequestKey, type PullRequestEvent } from '../../lib/domain/pull-request-event';
import { awsPullRequestDeps, pullRequestApiBase, sfnPlanOnlyExecutions } from '../../lib/pipeline/aws-deps';
import { createPipelineHandler } from '../../lib/pipeline/handler';
import { EXECUTION_NAME_LIMIT, pullRequestExecutionName, type PullRequestDeps } from '../../lib/pipeline/pull-request';
import { GitHubCheckRunReporter, RecordingReporter } from '../../lib/pull-requests/reporter';
import type { GitHubCheckRunClient } from '../../lib/notify/pull-request-feedback';
import type { RunStore } from '../../lib/store';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, makeHarness, statusChangeEvent, TestRepo, type Harness } from '../fixtures/pipeline/harness';

const PLAN_ONLY_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:tfstep-plan-only';
const arnOf = (name: string) => `arn:aws:states:us-east-1:111111111111:execution:tfstep-plan-only:${name}`;
const sfn = mockClient(SFNClient);

let db: DynaliteTable;
let store: RunStore;
let repo: TestRepo;
let c1: string;
let c2: string;
let h: Harness;
let handler: (payload: unknown) => Promise<unknown>;
let reporter: RecordingReporter;
let clock: Date;

// Only the dev account plans pull requests; staging and prod are listed as not allowed.
const base = testConfig();
const config = { ...base, accounts: base.accounts.map((a) => (a.name === 'dev' ? { ...a, pullRequestPlans: true } : a)) };

beforeAll(async () => {
  db = await startDynalite();
  repo = new TestRepo();
  repo.commit(baseFiles(), 'base');
  c1 = repo.commit({ 'dev/us-east-1/app/main.tf': 'a1' }, 'first push to the pull request');
  c2 = repo.commit({ 'dev/us-east-1/app/main.tf': 'a2' }, 'second push');
});
afterAll(async () => {
  repo.remove();
  await db.close();
});
beforeEach(async () => {
  sfn.reset();
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({ executionArn: arnOf(input.name), startDate: new Date() }));
  sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
  store = await db.freshStore();
  clock = new Date('2026-11-20T12:00:00.000Z');
  h = makeHarness(config, store, repo.dir, () => clock);
  reporter = new RecordingReporter('tfstep plan');
  const pullRequests: PullRequestDeps = {
    planOnlyExecutions: sfnPlanOnlyExecutions(sfn as unknown as SFNClient, PLAN_ONLY_ARN),
    reporter: () => Promise.resolve(reporter),
    runUrl: (name) => `https://runs.example.com/${name}`,
  };
  handler = createPipelineHandler({ ...h.deps, pullRequests });
});

const pr = (headSha: string, action: 'plan' | 'cancel' = 'plan', receivedAt = '2026-11-20T11:59:59.000Z'): PullRequestEvent => ({
  provider: 'github',
  deliveryId: `d-${headSha.slice(0, 8)}-${action}`,
  action,
  repository: { fullName: 'acme/live', cloneUrls: ['https://github.com/acme/live.git'] },
  number: 7,
  headBranch: 'feature/app',
  headSha,
  baseBranch: 'main',
  author: 'alice',
  title: 'Bigger app',
  receivedAt,
});
const busEvent = (detail: PullRequestEvent) => ({ version: '0', id: `ev-${detail.deliveryId}`, source: 'tfstep.git', 'detail-type': 'Git Pull Request', detail });

describe('a pull request event', () => {
  it('starts a plan-only run of the accounts that plan pull requests, records it and posts the check run as queued', async () => {
    // WHEN the pull request is opened
    const res = (await handler(busEvent(pr(c1)))) as { run: string; targets: number; notAllowed: number };
    // THEN one plan-only execution starts, of dev's modules only, with the pull request's head
    const starts = sfn.commandCalls(StartExecutionCommand);
    expect(starts).toHaveLength(1);
    const start = starts[0]!.args[0].input;
    expect(start.stateMachineArn).toBe(PLAN_ONLY_ARN);
    expect(start.name).toBe(res.run);
    const request = JSON.parse(start.input!) as PlanOnlyRequest;
    expect(request).toMatchObject({ kind: 'pull-request', id: res.run, repository: 'acme/live', pullRequest: { number: 7, headCommit: c1, baseRef: 'refs/heads/main' } });
    expect(request.targets!.map((t) => `${t.account}:${t.module}@${t.commit.slice(0, 7)}`).sort()).toEqual([`dev:dev/us-east-1/app@${c1.slice(0, 7)}`, `dev:dev/us-east-1/network@${c1.slice(0, 7)}`]);
    expect(res).toMatchObject({ targets: 2, notAllowed: 4 });
    // AND the run is in the run table, running
    expect(await store.pullRequests.get(res.run)).toMatchObject({ status: 'RUNNING', executionId: arnOf(res.run), pullRequest: 7, headSha: c1, targets: 2, notAllowed: 4 });
    // AND the check run was posted as queued with the run's link
    expect(reporter.checkRunOf(pr(c1))).toMatchObject({ status: 'queued', details_url: `https://runs.example.com/${res.run}` });
  });

  it('stops the older run of the same pull request when a newer push comes, and marks its check run cancelled', async () => {
    const first = (await handler(busEvent(pr(c1)))) as { run: string };
    clock = new Date('2026-11-20T12:01:00.000Z');
    // WHEN a second push arrives
    const second = (await handler(busEvent(pr(c2)))) as { run: string; stopped?: string };
    // THEN the first execution was stopped by ARN, and a second started
    expect(second.stopped).toBe(first.run);
    const stops = sfn.commandCalls(StopExecutionCommand);
    expect(stops).toHaveLength(1);
    expect(stops[0]!.args[0].input).toMatchObject({ executionArn: arnOf(first.run), error: 'tfstep.Superseded' });
    expect(stops[0]!.args[0].input.cause).toContain('a newer push to #7');
    expect(sfn.commandCalls(StartExecutionCommand)).toHaveLength(2);
    expect(await store.pullRequests.get(first.run)).toMatchObject({ status: 'CANCELLED' });
    expect(reporter.checkRunOf(pr(c1))).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
    // AND both runs are listed, newest first
    expect((await store.pullRequests.list()).map((r) => r.name)).toEqual([second.run, first.run]);
  });

  it('stops the run when the pull request is closed, and does nothing more when nothing runs', async () => {
    const first = (await handler(busEvent(pr(c1)))) as { run: string };
    const closed = (await handler(busEvent(pr(c1, 'cancel')))) as { stopped?: string };
    expect(closed.stopped).toBe(first.run);
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(1);
    expect((await store.pullRequests.get(first.run))?.reason).toBe('pull request #7 was closed');
    // A second close finds no running run.
    expect(await handler(busEvent(pr(c1, 'cancel')))).toEqual({ action: 'cancel', targets: 0, notAllowed: 0 });
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(1);
  });

  it('completes the check run with the summary at the run\'s finish step', async () => {
    const { run } = (await handler(busEvent(pr(c1)))) as { run: string };
    // GIVEN the plans' results as the record step writes them
    await store.planOnly.putResults(run, [
      { repository: 'acme/live', account: 'dev', module: 'dev/us-east-1/app', commit: c1, status: 'changes', changes: [{ address: 'aws_instance.app', action: 'delete' }], at: clock.toISOString() },
      { repository: 'acme/live', account: 'dev', module: 'dev/us-east-1/network', commit: c1, status: 'clean', at: clock.toISOString() },
    ]);
    // WHEN the start step runs (the check run goes in progress), then the finish step
    const request = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!) as PlanOnlyRequest;
    await handler({ action: 'plan-only-start', run, request });
    expect(reporter.checkRunOf(pr(c1))?.status).toBe('in_progress');
    const res = (await handler({ action: 'plan-only-finish', run, kind: 'pull-request' })) as { conclusion: string };
    // THEN the check run is completed with the summary, the destroy listed and staging/prod named as not planned
    const check = reporter.checkRunOf(pr(c1))!;
    expect(check.statuses).toEqual(['queued', 'in_progress', 'completed']);
    expect(check.conclusion).toBe(res.conclusion);
    expect(check.output!.summary).toContain('dev/us-east-1/app');
    expect(check.output!.summary).toContain('prod');
    // AND the run table has the conclusion
    expect(await store.pullRequests.get(run)).toMatchObject({ status: res.conclusion === 'failure' ? 'FAILED' : 'SUCCEEDED', conclusion: res.conclusion, checkTitle: check.output!.title });
  });

  it('fails the check run of a run whose execution failed before its finish step, and leaves a stopped run cancelled', async () => {
    const first = (await handler(busEvent(pr(c1)))) as { run: string };
    clock = new Date('2026-11-20T12:01:00.000Z');
    const second = (await handler(busEvent(pr(c2)))) as { run: string };
    // WHEN the status rule reports the stopped first run ABORTED and the second FAILED with an uncaught error
    await handler(statusChangeEvent(first.run, 'ABORTED', { executionArn: arnOf(first.run), stateMachineArn: PLAN_ONLY_ARN }));
    await handler(statusChangeEvent(second.run, 'FAILED', { executionArn: arnOf(second.run), stateMachineArn: PLAN_ONLY_ARN, error: 'States.DataLimitExceeded', cause: 'too big' }));
    // THEN the first stays cancelled, and the second failed with the reason on its check run
    expect(await store.pullRequests.get(first.run)).toMatchObject({ status: 'CANCELLED' });
    expect(reporter.checkRunOf(pr(c1))).toMatchObject({ conclusion: 'cancelled' });
    const failed = await store.pullRequests.get(second.run);
    expect(failed).toMatchObject({ status: 'FAILED', conclusion: 'failure' });
    expect(failed!.reason).toContain('States.DataLimitExceeded');
    expect(reporter.checkRunOf(pr(c2))).toMatchObject({ status: 'completed', conclusion: 'failure', output: { title: 'The plans could not run' } });
  });

  it('refuses an event whose detail is not a pull request, saying what was wrong', async () => {
    await expect(handler({ source: 'tfstep.git', 'detail-type': 'Git Pull Request', detail: { ...pr(c1), number: -1 } })).rejects.toThrow(/number/);
  });
});

describe('two events of one pull request at the same moment', () => {
  const early = '2026-11-20T11:59:58.000Z';
  const late = '2026-11-20T11:59:59.000Z';
  const until = async (what: string, ok: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    if (!ok()) throw new Error(`timed out waiting for ${what}`);
  };
  const startedNames = () => sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name!);
  const stoppedArns = () => sfn.commandCalls(StopExecutionCommand).map((c) => c.args[0].input.executionArn!);

  it('cancels the older head\'s run that a newer event replaced while it was starting, and the older run stops itself', async () => {
    // GIVEN StartExecution of the older head's run held until the newer event has been handled
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    sfn.on(StartExecutionCommand).callsFake(async (input: { name: string }) => {
      if (input.name.includes(c1.slice(0, 12))) await gate;
      return { executionArn: arnOf(input.name), startDate: new Date() };
    });
    // WHEN the older event is being handled, and the newer one is handled in full meanwhile
    const older = handler(busEvent(pr(c1, 'plan', early))) as Promise<{ run: string; superseded?: boolean }>;
    await until('the older run to call StartExecution', () => startedNames().length === 1);
    const newer = (await handler(busEvent(pr(c2, 'plan', late)))) as { run: string; stopped?: string };
    release();
    const first = await older;
    // THEN the newer event cancelled the older run, which stopped the execution it had just started
    expect(newer.stopped).toBe(first.run);
    expect(first.superseded).toBe(true);
    expect(await store.pullRequests.get(first.run)).toMatchObject({ status: 'CANCELLED' });
    expect(stoppedArns().filter((a) => a === arnOf(first.run)).length).toBeGreaterThanOrEqual(1);
    expect(sfn.commandCalls(StopExecutionCommand).at(-1)!.args[0].input.executionArn).toBe(arnOf(first.run));
    // AND its check run ended cancelled, though its queued post may have come after the cancel
    expect(reporter.checkRunOf(pr(c1))).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
    // AND the newer head's run is the one running
    expect(await store.pullRequests.get(newer.run)).toMatchObject({ status: 'RUNNING', headSha: c2 });
    expect(await store.pullRequests.active(pullRequestKey(pr(c2)))).toBe(newer.run);
  });

  it('never starts an older event that arrives after a newer one', async () => {
    const newer = (await handler(busEvent(pr(c2, 'plan', late)))) as { run: string };
    // WHEN the older push's event is handled last
    const older = (await handler(busEvent(pr(c1, 'plan', early)))) as { run: string; superseded?: boolean };
    // THEN it started nothing, posted nothing, and its record says why
    expect(older.superseded).toBe(true);
    expect(startedNames()).toEqual([newer.run]);
    expect(sfn.commandCalls(StopExecutionCommand)).toHaveLength(0);
    expect(reporter.checkRunOf(pr(c1))).toBeUndefined();
    const record = await store.pullRequests.get(older.run);
    expect(record).toMatchObject({ status: 'CANCELLED' });
    expect(record!.reason).toContain(`a later event of #7 (${newer.run})`);
    expect(await store.pullRequests.get(newer.run)).toMatchObject({ status: 'RUNNING' });
    // AND a close received before that push does not stop its run either
    expect(await handler(busEvent(pr(c2, 'cancel', early)))).toEqual({ action: 'cancel', targets: 0, notAllowed: 0 });
    expect(await store.pullRequests.get(newer.run)).toMatchObject({ status: 'RUNNING' });
  });

  it('leaves exactly the newest head running, whatever the interleaving', async () => {
    for (const [d1, d2] of [[0, 0], [0, 30], [30, 0], [5, 25], [25, 5]] as const) {
      // GIVEN a fresh table and StartExecution calls that take a different time for each head
      sfn.reset();
      sfn.on(StartExecutionCommand).callsFake(async (input: { name: string }) => {
        await new Promise((r) => setTimeout(r, input.name.includes(c1.slice(0, 12)) ? d1 : d2));
        return { executionArn: arnOf(input.name), startDate: new Date() };
      });
      sfn.on(StopExecutionCommand).resolves({ stopDate: new Date() });
      store = await db.freshStore();
      h = makeHarness(config, store, repo.dir, () => clock);
      reporter = new RecordingReporter('tfstep plan');
      const pullRequests: PullRequestDeps = { planOnlyExecutions: sfnPlanOnlyExecutions(sfn as unknown as SFNClient, PLAN_ONLY_ARN), reporter: () => Promise.resolve(reporter) };
      const both = createPipelineHandler({ ...h.deps, pullRequests });
      // WHEN both pushes' events are handled at the same moment
      const [a, b] = (await Promise.all([both(busEvent(pr(c1, 'plan', early))), both(busEvent(pr(c2, 'plan', late)))])) as { run: string }[];
      // THEN only the newer head's run is running, and every other execution started was stopped after its start
      const runs = await store.pullRequests.list();
      expect(runs.filter((r) => r.status === 'RUNNING').map((r) => r.headSha)).toEqual([c2]);
      expect((await store.pullRequests.get(a!.run))?.status).toBe('CANCELLED');
      expect(await store.pullRequests.active(pullRequestKey(pr(c2)))).toBe(b!.run);
      const calls = sfn.calls().map((c) => c.args[0]);
      for (const name of startedNames().filter((n) => n !== b!.run)) {
        const started = calls.findIndex((c) => c instanceof StartExecutionCommand && c.input.name === name);
        const stoppedAfter = calls.findIndex((c, i) => i > started && c instanceof StopExecutionCommand && c.input.executionArn === arnOf(name));
        expect({ delays: [d1, d2], name, stoppedAfter: stoppedAfter > started }).toEqual({ delays: [d1, d2], name, stoppedAfter: true });
      }
      // AND no check run of the older head is left open
      const check = reporter.checkRunOf(pr(c1));
      if (check) expect(check).toMatchObject({ status: 'completed', conclusion: 'cancelled' });
    }
  });
});

describe('one GitHub check run per head', () => {
  it('updates the check run created when queued, though each step makes its own reporter', async () => {
    // GIVEN a GitHub API double that numbers the check runs it creates
    const calls: string[] = [];
    let next = 41;
    const client = {
      create: (_repo: string, _sha: string, _name: string, body: { status: string }) => {
        next += 1;
        calls.push(`create ${next} ${body.status}`);
        return Promise.resolve(next);
      },
      update: (_repo: string, id: number, body: { status: string; conclusion?: string }) => {
        calls.push(`update ${id} ${body.status}${body.conclusion ? ` ${body.conclusion}` : ''}`);
        return Promise.resolve();
      },
    } as unknown as GitHubCheckRunClient;
    const pullRequests: PullRequestDeps = {
      planOnlyExecutions: sfnPlanOnlyExecutions(sfn as unknown as SFNClient, PLAN_ONLY_ARN),
      reporter: () => Promise.resolve(new GitHubCheckRunReporter(client, 'tfstep plan')),
    };
    const github = createPipelineHandler({ ...h.deps, pullRequests });
    // WHEN the run is queued, started and finished, each step with a fresh reporter
    const { run } = (await github(busEvent(pr(c1)))) as { run: string };
    const request = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!) as PlanOnlyRequest;
    await github({ action: 'plan-only-start', run, request });
    await github({ action: 'plan-only-finish', run, kind: 'pull-request' });
    // THEN one check run was created, and then updated
    expect(calls).toEqual(['create 42 queued', 'update 42 in_progress', expect.stringMatching(/^update 42 completed /)]);
    expect((await store.pullRequests.get(run))?.checkRunId).toBe(42);
  });
});

describe('pullRequestExecutionName', () => {
  it('fits Step Functions\' 80 characters of letters, digits, - and _ for any repository name', () => {
    const name = pullRequestExecutionName({ repository: { fullName: `group/sub.group/${'very-long.name'.repeat(10)}`, cloneUrls: [] }, number: 123456, headSha: c1 }, new Date('2026-11-20T12:00:00Z'));
    expect(name.length).toBeLessThanOrEqual(EXECUTION_NAME_LIMIT);
    expect(name).toMatch(/^pr-[A-Za-z0-9_-]+$/);
    expect(name).toContain(`-123456-${c1.slice(0, 12)}-`);
  });
});

describe('Step Functions and the git host in AWS', () => {
  it('counts an execution that no longer exists as stopped, and lets other errors through', async () => {
    const executions = sfnPlanOnlyExecutions(sfn as unknown as SFNClient, PLAN_ONLY_ARN);
    sfn.on(StopExecutionCommand).rejects(Object.assign(new Error('gone'), { name: 'ExecutionDoesNotExist' }));
    await expect(executions.stop('pr-x', 'replaced')).resolves.toBeUndefined();
    // a name becomes the execution ARN of the plan-only state machine
    expect(sfn.commandCalls(StopExecutionCommand)[0]!.args[0].input.executionArn).toBe(arnOf('pr-x'));
    sfn.on(StopExecutionCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(executions.stop(arnOf('pr-y'), 'replaced')).rejects.toThrow('denied');
  });

  it('talks to github.com\'s API, an Enterprise server\'s /api/v3, or GitLab\'s /api/v4', () => {
    expect(pullRequestApiBase('github', ['https://github.com/acme/live.git'])).toBe('https://api.github.com');
    expect(pullRequestApiBase('github', ['git@ghe.example.com:acme/live.git', 'https://ghe.example.com/acme/live.git'])).toBe('https://ghe.example.com/api/v3');
    expect(pullRequestApiBase('gitlab', ['https://gitlab.example.com/acme/live.git'])).toBe('https://gitlab.example.com/api/v4');
  });

  it('refuses feedback without central git credentials, saying what to configure', async () => {
    const deps = awsPullRequestDeps(config, sfn as unknown as SFNClient, PLAN_ONLY_ARN, undefined);
    await expect(deps.reporter(pr(c1))).rejects.toThrow(/git.centralSecret/);
  });
});
