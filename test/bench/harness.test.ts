import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { measureFanout } from '../../bench/fanout';
import { makeBenchFixture } from '../../bench/fixture';
import { measureMakespan, simulatedDurations } from '../../bench/makespan';
import { measureQueued } from '../../bench/queued';
import { formatResults, runBench } from '../../bench/run';
import { measureWaves } from '../../bench/waves';
import { BenchResultsSchema, FanoutEntrySchema } from '../../bench/schema';
import { GitRepoReader } from '../../lib/planning/repo-reader';

jest.setTimeout(180_000);

describe('bench harness on tiny sizes', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'tfstep-bench-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('makes a valid config and one module per account in a real git repository', async () => {
    // GIVEN a fixture of 3 accounts and 2 revisions
    const fixture = await makeBenchFixture(path.join(dir, 'fixture'), 3, { commits: 2 });
    // WHEN the planner's reader lists the modules
    const modules = await new GitRepoReader(fixture.repoDir).listModules(fixture.commits[1]!);
    // THEN each account has its module, ids are 12 digits, and the stage has the bench concurrency
    expect(modules).toEqual(['acct-0001/us-east-1', 'acct-0002/us-east-1', 'acct-0003/us-east-1']);
    expect(fixture.config.accounts.map((a) => a.id)).toEqual(['100000000001', '100000000002', '100000000003']);
    expect(fixture.config.stages.fleet?.concurrency).toBe(40);
    expect(fixture.commits).toHaveLength(2);
  });

  it('deploys every account through the real definition and reports the fan-out schema', async () => {
    // GIVEN 3 accounts
    // WHEN the fan-out is measured in this process
    const result = await measureFanout(3);
    // THEN the run completed, every account ran and was recorded, and the figures have the schema
    expect(FanoutEntrySchema.parse(result)).toEqual(result);
    expect(result.status).toBe('completed');
    expect(result.accountsRecorded).toBe(3);
    // Admit, Admitted?, Targets, PlanReady, StartStages, MoreStages?, SelectStage, the Map, StageGate,
    // StageDone?, NextStage, MoreStages?, RunSucceeded, Finish, Finished?, Succeeded; per account the child
    // execution's start, CheckLease (the fencing check before the task), RunTerraform and RecordOutcome.
    // (The stage's phase comes with its items, so there is no choice of Map per stage.)
    expect(result.transitions).toBe(16 + 4 * 3);
    expect(result.historyEvents).toBeGreaterThan(result.transitions);
    expect(result.costUsd).toBeCloseTo((result.transitions * 0.025) / 1000, 9);
    // AND every AWS limit was measured on the way and stayed under its value
    for (const [name, use] of Object.entries(result.limits)) {
      expect([name, use.max > 0, use.max <= use.limit]).toEqual([name, true, true]);
    }
    expect(result.limits.historyEvents.max).toBe(result.historyEvents);
  });

  it('stops a stage after its first wave when the canary fails: no account of a later wave starts', async () => {
    // GIVEN 200 accounts in waves of 10, 10 and 180, the canary failing; and the same without waves
    const result = await measureWaves(200);
    // THEN with waves only the first wave's accounts started, and the run failed naming the stop
    expect(result.waveSizes).toEqual([10, 10, 180]);
    expect(result.waves.accountsStarted).toBe(10);
    expect(result.waves.reason).toContain('wave 1 of 3');
    expect(result.waves.reason).toContain('190 account(s) in later waves never started');
    // AND without waves every account started before the failure stopped the stage
    expect(result.baseline.accountsStarted).toBe(200);
    expect(result.startedRatio).toBe(0.05);
    expect(result.waves.transitions).toBeLessThan(result.baseline.transitions);
  });

  it('keeps the parent history and the largest state the same size for a stage of 250 accounts as for 3', async () => {
    // GIVEN a stage above what an inline Map could carry in AWS (~180 account items in 256 KiB)
    // WHEN 3 and 250 accounts are measured
    const small = await measureFanout(3);
    const large = await measureFanout(250);
    // THEN every account ran in a child execution of its own
    expect(large).toMatchObject({ status: 'completed', accountsRecorded: 250, childExecutions: 250 });
    expect(large.largestChildHistoryEvents).toBe(small.largestChildHistoryEvents);
    // AND the parent's history does not grow with the stage
    expect(large.parentHistoryEvents).toBe(small.parentHistoryEvents);
    // AND the largest state is the push itself (its changed paths), far below 256 KiB
    expect(large.largestPayloadBytes).toBeLessThan(32 * 1024);
  }, 60_000);

  it('runs the simulated stage with the engine bounding concurrency', async () => {
    // GIVEN 5 accounts on 2 slots
    // WHEN the makespan is simulated
    const result = await measureMakespan(5, { concurrency: 2, seed: 3 });
    // THEN the engine's schedule is the list schedule, and the loop is the sum of the same durations
    const sum = simulatedDurations(5, 3).reduce((s, d) => s + d.totalS, 0);
    expect(result.parallelS).toBeCloseTo(result.listScheduleS, 0);
    expect(result.sequentialS).toBeCloseTo(sum, 0);
    expect(result.ratio).toBeCloseTo(result.sequentialS / result.parallelS, 1);
    expect(result.parallelS).toBeGreaterThanOrEqual(result.longestTaskS);
  });

  it('keeps a run queued 30 days under 1,000 history events: it waits on a callback, not a poll', async () => {
    // GIVEN a holder that keeps the branch 30 simulated days
    // WHEN a second push waits for it
    const result = await measureQueued(30);
    // THEN it was woken once, by the holder's finish, and admitted when the holder was done
    expect(result.wakeUps).toBe(1);
    expect(result.admittedAfterS).toBeGreaterThanOrEqual(result.holderS - 60);
    expect(result.admittedAfterS).toBeLessThanOrEqual(result.holderS + 60);
    // AND between, it looked again only once per 12-hour heartbeat interval
    expect(result.heartbeatTimeouts).toBe(Math.floor(result.holderS / 43200));
    expect(result.waits).toBe(result.heartbeatTimeouts + result.wakeUps);
    // AND the history it wrote while queued stays under the budget
    expect(result.historyBudget).toBe(1000);
    expect(result.queuedHistoryEvents).toBeLessThanOrEqual(1000);
    expect(result.queuedHistoryEvents).toBeGreaterThan(13 * result.waits);
  });

  it('runs the whole benchmark on tiny sizes and writes results.json with the schema', async () => {
    // GIVEN tiny sizes and a results file in a temp folder
    const out = path.join(dir, 'results.json');
    const lines: string[] = [];
    // WHEN the benchmark runs (fan-out sizes in child processes)
    const results = await runBench({
      sizes: [1, 2],
      fanoutTimeLimitS: undefined,
      makespanAccounts: 3,
      queuedDays: 1,
      seed: 11,
      webhookIterations: 20,
      webhookColdRuns: 1,
      wavesAccounts: 30,
      dashboardAccounts: 10,
      driftAccounts: 3,
      only: ['fanout', 'waves', 'makespan', 'queued', 'webhook', 'dashboard', 'drift'],
      out,
      log: (l) => lines.push(l),
    });
    // THEN the file holds the same validated results and the table names every section
    const written = BenchResultsSchema.parse(JSON.parse(await readFile(out, 'utf8')));
    expect(written).toEqual(results);
    expect(written.fanout.map((f) => f.accounts)).toEqual([1, 2]);
    expect(written.fanout.every((f) => f.status === 'completed' && f.peakRssMb > 0)).toBe(true);
    expect(written.queued.queuedHistoryEvents).toBeLessThanOrEqual(written.queued.historyBudget);
    expect(written.limits.historyEvents.max).toBe(Math.max(...written.fanout.map((f) => f.limits.historyEvents.max)));
    const text = formatResults(written);
    for (const heading of ['Fan-out:', 'Waves:', 'Makespan:', 'Queue:', 'Webhook:', 'Dashboard:', 'Drift sweep:']) expect(text).toContain(heading);
    // AND the drift sweep planned every account it applied, all clean, for fewer transitions than the push
    expect(written.drift).toMatchObject({ accounts: 3, targets: 3, clean: 3, childExecutions: 3 });
    expect(written.drift!.transitions).toBeLessThan(written.drift!.push.transitions);
    expect(written.dashboard?.accounts).toBe(10);
    expect(written.dashboard?.renderRunsMs).toHaveLength(5);
    expect(lines.some((l) => l.startsWith('fan-out: 2 account(s)'))).toBe(true);
  });
});
