/**
 * What a run costs while it waits for its branch. Two pushes to main: the first run holds the
 * branch while its one task runs for `queuedMinutes` of simulated time; the second is started
 * right after the first was admitted and polls (Admit -> Admitted? -> WaitForTurn -> Admit ...)
 * with the admit function's real backoff until the branch is free. The transitions it spends on
 * polls are its Admit/Admitted?/WaitForTurn entries beyond the two every run spends once.
 *
 * The engine's Wait state runs in no real time here; the harness lets the `waitSeconds` admit
 * answered pass in virtual time instead (see ./harness.ts), so the polls happen when they would
 * in AWS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { HistoryEvent } from '../lib/local/engine/engine';
import { waitSecondsFor } from '../lib/pipeline/admit';
import { BenchRunError } from './errors';
import { benchPushInput, makeBenchFixture } from './fixture';
import { BenchPipeline } from './harness';
import { costUsd } from './history';
import { VirtualClock } from './virtual-clock';

/** The admit states a waiting run loops through. */
const POLL_STATES = new Set(['Admit', 'Admitted?', 'WaitForTurn']);

/** The `queued` entry of results.json. */
export interface QueuedResult {
  /** How long the first run held the branch (its task time), in virtual seconds. */
  holderS: number;
  /** When the queued run was admitted, in virtual seconds after it started. */
  admittedAfterS: number;
  /** WAIT answers the queued run got, and the waits they asked for. */
  polls: number;
  waitSeconds: number[];
  /** Transitions spent on polling: 3 per WAIT (Admit, Admitted?, WaitForTurn). */
  queuedPollTransitions: number;
  queuedPollCostUsd: number;
  /** The same count from admit's waitSecondsFor alone, as a check. */
  expectedPolls: number;
}

/** State entries before the run's first Targets entry: its admission. */
function admissionEntries(events: readonly HistoryEvent[]): { entries: number; waits: number } {
  let entries = 0;
  let waits = 0;
  for (const e of events) {
    if (e.type !== 'StateEntered') continue;
    const name = (e.state as { name?: string } | undefined)?.name ?? '';
    if (name === 'Targets') break;
    if (!POLL_STATES.has(name)) continue;
    entries++;
    if (name === 'WaitForTurn') waits++;
  }
  return { entries, waits };
}

/** Polls a run makes while a holder keeps the branch for `holderS` seconds, from admit's backoff. */
export function expectedPolls(holderS: number): number {
  let t = 0;
  let polls = 0;
  while (t < holderS) {
    polls++;
    t += waitSecondsFor(polls);
  }
  return polls;
}

/** Runs the two-push scenario; see the file comment. */
export async function measureQueued(queuedMinutes = 10): Promise<QueuedResult> {
  const holderMs = queuedMinutes * 60 * 1000;
  const dir = await mkdtemp(path.join(tmpdir(), 'tfstep-bench-queued-'));
  let pipeline: BenchPipeline | undefined;
  try {
    const fixture = await makeBenchFixture(dir, 1, { commits: 2 });
    const clock = new VirtualClock();
    const holderName = 'bench-holder';
    const waits: number[] = [];
    let admittedAt: number | undefined;
    let admitHolder!: () => void;
    const holderAdmitted = new Promise<void>((r) => (admitHolder = r));
    pipeline = await BenchPipeline.open({
      config: fixture.config,
      repoDir: fixture.repoDir,
      stateDir: path.join(dir, 'state'),
      clock,
      taskMsFor: (task) => (task.execution === holderName ? holderMs : 0),
      onAdmit: (answer) => {
        if (answer.runId === holderName && answer.decision === 'ADMITTED') admitHolder();
        if (answer.runId !== holderName && answer.decision === 'ADMITTED') admittedAt ??= clock.elapsedMs;
        if (answer.runId !== holderName && answer.decision === 'WAIT' && typeof answer.waitSeconds === 'number') waits.push(answer.waitSeconds);
      },
    });
    const holder = pipeline.start(benchPushInput(fixture, 0, clock.now()), holderName);
    // The second push starts only once the first holds the branch, as a later push would.
    await Promise.race([holderAdmitted, holder.done]);
    const queuedStart = clock.elapsedMs;
    const queued = pipeline.start(benchPushInput(fixture, 1, new Date(clock.now().getTime() + 1000)), 'bench-queued');
    const [holderResult, queuedResult] = await clock.run(Promise.all([holder.done, queued.done]));
    if (holderResult.status !== 'SUCCEEDED' || queuedResult.status !== 'SUCCEEDED' || admittedAt === undefined) {
      throw new BenchRunError(`the queue scenario did not run both pushes: holder ${holderResult.status}, queued ${queuedResult.status}${queuedResult.error ? ` (${queuedResult.error})` : ''}`);
    }
    const mine = admissionEntries(queued.events);
    const baseline = admissionEntries(holder.events);
    const transitions = mine.entries - baseline.entries;
    return {
      holderS: holderMs / 1000,
      admittedAfterS: (admittedAt - queuedStart) / 1000,
      polls: mine.waits,
      waitSeconds: waits,
      queuedPollTransitions: transitions,
      queuedPollCostUsd: Math.round(costUsd(transitions) * 1e6) / 1e6,
      expectedPolls: expectedPolls(holderMs / 1000),
    };
  } finally {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
