/**
 * Links of pull request runs in AWS: the check run's details link (the plan-only execution's Step
 * Functions console page) at every step, each summary row's link to its account's plan log in the
 * S3 console, and the `tfstep logs` line. Real run table (dynalite), a real git repository, and
 * real HTTP servers on loopback that answer as GitHub's check runs API and GitLab's notes API do
 * (the hosts cannot be reached from the tests); Step Functions is a test double
 * (aws-sdk-client-mock), the artifacts bucket the harness's in-memory stand-in.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { PlanOnlyRequest } from '../../lib/domain/plan-only';
import type { PullRequestEvent } from '../../lib/domain/pull-request-event';
import { s3ObjectConsoleUrl } from '../../lib/notify/links';
import { GitHubCheckRunClient, GitLabNoteClient } from '../../lib/notify/pull-request-feedback';
import { awsPullRequestDeps } from '../../lib/pipeline/aws-deps';
import { createPipelineHandler } from '../../lib/pipeline/handler';
import type { PullRequestDeps } from '../../lib/pipeline/pull-request';
import { pullRequestLinks } from '../../lib/pipeline/pull-request-links';
import { GitHubCheckRunReporter, GitLabNoteReporter } from '../../lib/pull-requests/reporter';
import type { RunStore } from '../../lib/store';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';
import { baseFiles, makeHarness, TestRepo, type Harness } from '../fixtures/pipeline/harness';

const PLAN_ONLY_ARN = 'arn:aws:states:us-east-1:111111111111:stateMachine:tfstep-plan-only';
const BUCKET = 'tfstep-artifacts-111111111111-us-east-1';
const arnOf = (name: string) => `arn:aws:states:us-east-1:111111111111:execution:tfstep-plan-only:${name}`;
const sfn = mockClient(SFNClient);

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly body: Record<string, unknown> | undefined;
}

/** A loopback server answering as `answer` says, recording every request. */
async function startApi(answer: (req: Seen) => { status: number; body: unknown }): Promise<{ baseUrl: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
      seen.push(s);
      const a = answer(s);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

let db: DynaliteTable;
let store: RunStore;
let repo: TestRepo;
let c1: string;
let h: Harness;

// Only the dev account plans pull requests; staging and prod are listed as not allowed.
const base = testConfig();
const config = { ...base, accounts: base.accounts.map((a) => (a.name === 'dev' ? { ...a, pullRequestPlans: true } : a)) };

beforeAll(async () => {
  db = await startDynalite();
  repo = new TestRepo();
  repo.commit(baseFiles(), 'base');
  c1 = repo.commit({ 'dev/us-east-1/app/main.tf': 'a1' }, 'a push to the pull request');
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
  h = makeHarness(config, store, repo.dir, () => new Date('2026-11-20T12:00:00.000Z'));
});

const pr = (over: Partial<PullRequestEvent> = {}): PullRequestEvent => ({
  provider: 'github',
  deliveryId: `d-${c1.slice(0, 8)}`,
  action: 'plan',
  repository: { fullName: 'acme/live', cloneUrls: ['https://github.com/acme/live.git'] },
  number: 7,
  headBranch: 'feature/app',
  headSha: c1,
  baseBranch: 'main',
  author: 'alice',
  title: 'Bigger app',
  receivedAt: '2026-11-20T11:59:59.000Z',
  ...over,
});
const busEvent = (detail: PullRequestEvent) => ({ version: '0', id: `ev-${detail.deliveryId}`, source: 'tfstep.git', 'detail-type': 'Git Pull Request', detail });

/** Queues, starts and finishes a run as the three AWS invocations do, with the dev app module destroying a resource. */
async function runThrough(handler: (payload: unknown) => Promise<unknown>, event: PullRequestEvent): Promise<{ run: string; task: string }> {
  const { run } = (await handler(busEvent(event))) as { run: string };
  const request = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]!.args[0].input.input!) as PlanOnlyRequest;
  await handler({ action: 'plan-only-start', run, request });
  const items = JSON.parse((await h.deps.artifacts.get(`${run}/_plan-only/items.json`))!.toString('utf8')) as { task: string; account: { name: string } }[];
  await store.planOnly.putResults(run, [
    { repository: 'acme/live', account: 'dev', module: 'dev/us-east-1/app', commit: c1, status: 'changes', changes: [{ address: 'aws_instance.app', action: 'delete' }], at: '2026-11-20T12:00:30.000Z' },
  ]);
  await handler({ action: 'plan-only-finish', run, kind: 'pull-request' });
  return { run, task: items.find((i) => i.account.name === 'dev')!.task };
}

describe('a pull request run in AWS on GitHub', () => {
  it('links the execution\'s console page from the check run at every step, and each row\'s plan log from the summary', async () => {
    // GIVEN a checks API that hands out check run 42, and the AWS dependencies (each step makes its own reporter)
    const api = await startApi((req) => (req.method === 'POST' ? { status: 201, body: { id: 42 } } : { status: 200, body: { id: 42 } }));
    try {
      const pullRequests: PullRequestDeps = {
        ...awsPullRequestDeps(config, sfn as unknown as SFNClient, PLAN_ONLY_ARN, undefined, BUCKET),
        reporter: () => Promise.resolve(new GitHubCheckRunReporter(new GitHubCheckRunClient({ baseUrl: api.baseUrl, token: () => Promise.resolve('t') }), 'tfstep plan')),
      };
      // WHEN the run is queued, started and finished
      const { run, task } = await runThrough(createPipelineHandler({ ...h.deps, pullRequests }), pr());
      // THEN every request carries the Step Functions console page of the plan-only execution
      const details = `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${arnOf(run)}`;
      expect(api.seen.map((s) => [s.method, s.body?.status, s.body?.details_url])).toEqual([
        ['POST', 'queued', details],
        ['PATCH', 'in_progress', details],
        ['PATCH', 'completed', details],
      ]);
      // AND the summary links the dev module's row to its task's plan log in the S3 console, and names the command
      const summary = (api.seen[2]!.body!.output as { summary: string }).summary;
      const log = `https://us-east-1.console.aws.amazon.com/s3/object/${BUCKET}?region=us-east-1&bucketType=general&prefix=accounts%2Fdev%2F${task}%2Fplan.log`;
      expect(summary).toMatch(new RegExp(`^\\| dev \\| dev \\| \`dev/us-east-1/app\` \\|.*\\| \\[log\\]\\(${log.replace(/[.?*+^$()[\]{}|\\]/g, '\\$&')}\\) \\|$`, 'm'));
      expect(summary).toContain(`[Full run](${details})`);
      expect(summary).toContain(`\`tfstep logs ${run}\``);
      // AND the rows of accounts that do not plan pull requests have no log link
      expect(summary).toMatch(/^\| prod \| prod \| .* not allowed \|.*\| {2}\|$/m);
    } finally {
      await api.close();
    }
  });
});

describe('a merge request run in AWS on GitLab', () => {
  it('links the execution\'s console page from the note at every step', async () => {
    // GIVEN a notes API that keeps the notes it is given
    const notes: { id: number; body: string }[] = [];
    const api = await startApi((req) => {
      if (req.method === 'GET') return { status: 200, body: notes };
      if (req.method === 'POST') {
        notes.push({ id: notes.length + 1, body: req.body!.body as string });
        return { status: 201, body: notes[notes.length - 1] };
      }
      const note = notes.find((n) => req.url.endsWith(`/notes/${n.id}`))!;
      note.body = req.body!.body as string;
      return { status: 200, body: note };
    });
    try {
      const pullRequests: PullRequestDeps = {
        ...awsPullRequestDeps(config, sfn as unknown as SFNClient, PLAN_ONLY_ARN, undefined, BUCKET),
        reporter: () => Promise.resolve(new GitLabNoteReporter(new GitLabNoteClient({ baseUrl: api.baseUrl, token: () => Promise.resolve('t') }))),
      };
      // WHEN a merge request's run is queued, started and finished
      const event = pr({ provider: 'gitlab', projectId: 12, repository: { fullName: 'acme/live', cloneUrls: ['https://gitlab.example.com/acme/live.git'] } });
      const { run, task } = await runThrough(createPipelineHandler({ ...h.deps, pullRequests }), event);
      // THEN each version of the one note links the run's console page
      const details = `https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/${arnOf(run)}`;
      const written = api.seen.filter((s) => s.method !== 'GET').map((s) => s.body!.body as string);
      expect(written).toHaveLength(3);
      expect(written[0]).toContain(`queued for \`${c1.slice(0, 12)}\` ([run](${details}))`);
      expect(written[1]).toContain(`in every account it touches ([run](${details}))`);
      expect(written[2]).toContain(`[Full run](${details})`);
      // AND the finished note links the plan log and names the command, in the one note
      expect(written[2]).toContain(`prefix=accounts%2Fdev%2F${task}%2Fplan.log`);
      expect(written[2]).toContain(`\`tfstep logs ${run}\``);
      expect(notes).toHaveLength(1);
    } finally {
      await api.close();
    }
  });
});

describe('links in other partitions', () => {
  it('opens the console of the state machine\'s partition and region', async () => {
    const cases = [
      { arn: 'arn:aws:states:eu-west-1:1:stateMachine:tfstep-plan-only', host: 'eu-west-1.console.aws.amazon.com', region: 'eu-west-1' },
      { arn: 'arn:aws-cn:states:cn-north-1:1:stateMachine:tfstep-plan-only', host: 'console.amazonaws.cn', region: 'cn-north-1' },
      { arn: 'arn:aws-us-gov:states:us-gov-west-1:1:stateMachine:tfstep-plan-only', host: 'us-gov-west-1.console.amazonaws-us-gov.com', region: 'us-gov-west-1' },
    ];
    for (const { arn, host, region } of cases) {
      const deps = awsPullRequestDeps(config, sfn as unknown as SFNClient, arn, undefined, 'b');
      expect(deps.runUrl!('r1')).toBe(`https://${host}/states/home?region=${region}#/v2/executions/details/${arn.replace(':stateMachine:', ':execution:')}:r1`);
      expect(deps.logUrl!('accounts/dev/r1-0/plan.log')).toBe(`https://${host}/s3/object/b?region=${region}&bucketType=general&prefix=accounts%2Fdev%2Fr1-0%2Fplan.log`);
      // The summary's links are built from the same dependencies.
      const links = await pullRequestLinks('r1', { get: () => Promise.resolve(Buffer.from(JSON.stringify([{ task: 'r1-0', account: { name: 'dev', modules: ['dev/app'] } }]))) }, deps);
      expect(links.logUrl!('dev', 'dev/app')).toBe(s3ObjectConsoleUrl(arn.split(':')[1]!, region, 'b', 'accounts/dev/r1-0/plan.log'));
      expect(links.logUrl!('dev', 'dev/other')).toBeUndefined();
    }
  });

  it('refuses a plan-only state machine that is not a regional ARN, saying what it expected', () => {
    expect(() => awsPullRequestDeps(config, sfn as unknown as SFNClient, 'tfstep-plan-only', undefined, 'b')).toThrow(/"tfstep-plan-only" is not a regional ARN; expected arn:<partition>:<service>:<region>/);
  });

  it('leaves the rows without links when the run planned nothing (no item list)', async () => {
    const deps = awsPullRequestDeps(config, sfn as unknown as SFNClient, PLAN_ONLY_ARN, undefined, BUCKET);
    const links = await pullRequestLinks('r2', { get: () => Promise.resolve(undefined) }, deps);
    expect(links.logUrl!('dev', 'dev/app')).toBeUndefined();
    expect(links.summary).toEqual({ runUrl: deps.runUrl!('r2'), logsCommand: 'tfstep logs r2' });
  });
});
