/**
 * The drift row: a sweep over every account after a push applied them all, on the local engine
 * with the runner that does no work; its transitions, history events and cost per sweep, next to
 * those of the push that applied the same accounts.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BenchRunError } from './errors';
import { benchPushInput, makeBenchFixture } from './fixture';
import { BenchPipeline } from './harness';
import { costUsd, estimateExecution } from './history';

/** What the drift row measures. */
export interface DriftResult {
  accounts: number;
  /** Targets the sweep planned (one module per account in the fixture). */
  targets: number;
  clean: number;
  wallMs: number;
  transitions: number;
  historyEvents: number;
  childExecutions: number;
  costUsd: number;
  /** The push that applied the same accounts, for comparison. */
  push: { transitions: number; historyEvents: number; costUsd: number };
}

const round = (n: number, digits = 2): number => Math.round(n * 10 ** digits) / 10 ** digits;

/** Applies `accounts` accounts with one push, then sweeps them once. */
export async function measureDriftSweep(accounts: number): Promise<DriftResult> {
  const dir = await mkdtemp(path.join(tmpdir(), `tfstep-bench-drift-${accounts}-`));
  let pipeline: BenchPipeline | undefined;
  try {
    const fixture = await makeBenchFixture(dir, accounts, { concurrency: 40 });
    pipeline = await BenchPipeline.open({ config: fixture.config, repoDir: fixture.repoDir, stateDir: path.join(dir, 'state') });
    const push = pipeline.start(benchPushInput(fixture, 0, new Date()), `bench-drift-push-${accounts}`);
    const pushed = await push.done;
    if (pushed.status !== 'SUCCEEDED') throw new BenchRunError(`the push before the sweep ended ${pushed.status}: ${pushed.error ?? ''} ${pushed.cause ?? ''}`);
    const pushEstimate = estimateExecution(push.events, pipeline.definition);

    const t0 = performance.now();
    const name = `bench-drift-sweep-${accounts}`;
    const sweep = pipeline.planOnlyEngine.start({ kind: 'drift' }, name);
    const result = await sweep.done;
    const wallMs = performance.now() - t0;
    if (result.status !== 'SUCCEEDED') throw new BenchRunError(`the drift sweep ended ${result.status}: ${result.error ?? ''} ${result.cause ?? ''}`);
    const results = await pipeline.runStore.planOnly.listResults(name);
    const estimate = estimateExecution(sweep.events, pipeline.planOnlyDefinition);
    return {
      accounts,
      targets: results.length,
      clean: results.filter((r) => r.status === 'clean').length,
      wallMs: round(wallMs, 1),
      transitions: estimate.transitions,
      historyEvents: estimate.historyEvents,
      childExecutions: estimate.childExecutions,
      costUsd: round(costUsd(estimate.transitions), 6),
      push: { transitions: pushEstimate.transitions, historyEvents: pushEstimate.historyEvents, costUsd: round(costUsd(pushEstimate.transitions), 6) },
    };
  } finally {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
