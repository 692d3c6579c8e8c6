/**
 * What a run costs while it waits for its branch. Two pushes to main: the first run holds the
 * branch while its one task runs for `queuedDays` of simulated time; the second is started right
 * after the first was admitted, is told to WAIT, and waits on a callback (WaitForTurn, a
 * `.waitForTaskToken` state) until the first run's finish wakes it. Nobody sends heartbeats, so
 * every HeartbeatSeconds the wait times out and admit looks again: the history a queued run
 * writes grows with the days it waits, by one admit cycle per heartbeat interval, and must stay
 * under {@link QUEUED_HISTORY_BUDGET} events for a 30-day wait.
 *
 * The waits run on virtual time (./virtual-clock.ts): the local task tokens are armed on it, so
 * 30 days pass in seconds and the heartbeat timeouts happen when they would in AWS.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { HistoryEvent } from '../lib/local/engine/engine';
import { BenchRunError } from './errors';
import { benchPushInput, makeBenchFixture } from './fixture';
import { BenchPipeline } from './harness';
import { costUsd, estimateExecution } from './history';
import { VirtualClock } from './virtual-clock';

/** The most history events a run queued 30 days may write before it is admitted. */
export const QUEUED_HISTORY_BUDGET = 1000;

const DAY_MS = 24 * 3600 * 1000;

/** The `queued` entry of results.json. */
export interface QueuedResult {
  /** How long the first run held the branch (its task time), in virtual seconds. */
  holderS: number;
  /** When the queued run was admitted, in virtual seconds after it started. */
  admittedAfterS: number;
  /** WAIT answers the queued run got (admit cycles while it waited). */
  waits: number;
  /** Of its waits, those that ended by the heartbeat timeout (admit looked again by itself). */
  heartbeatTimeouts: number;
  /** Of its waits, those that ended by a wake-up from the run that released the branch. */
  wakeUps: number;
  /** AWS history events the queued run wrote from its start until it was admitted. */
  queuedHistoryEvents: number;
  /** The budget those events must stay under. */
  historyBudget: number;
  /** Transitions spent until it was admitted, and what they cost. */
  queuedTransitions: number;
  queuedCostUsd: number;
}

/** The queued run's log up to its first Targets entry: its admission. */
function admission(events: readonly HistoryEvent[]): HistoryEvent[] {
  const at = events.findIndex((e) => e.type === 'StateEntered' && (e.state as { name?: string } | undefined)?.name === 'Targets');
  return at === -1 ? [...events] : events.slice(0, at);
}

function stateName(e: HistoryEvent): string {
  return (e.state as { name?: string } | undefined)?.name ?? '';
}

/** Runs the two-push scenario; see the file comment. */
export async function measureQueued(queuedDays = 30): Promise<QueuedResult> {
  const holderMs = queuedDays * DAY_MS;
  const dir = await mkdtemp(path.join(tmpdir(), 'tfstep-bench-queued-'));
  let pipeline: BenchPipeline | undefined;
  try {
    const fixture = await makeBenchFixture(dir, 1, { commits: 2 });
    const clock = new VirtualClock();
    const holderName = 'bench-holder';
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
    const waiting = admission(queued.events);
    const estimate = estimateExecution(waiting, pipeline.definition);
    const waits = waiting.filter((e) => e.type === 'StateEntered' && stateName(e) === 'WaitForTurn').length;
    const heartbeatTimeouts = waiting.filter((e) => {
      if (e.type !== 'StateCaught' || stateName(e) !== 'WaitForTurn') return false;
      const catcher = (e.catch as { catcher?: { ErrorEquals?: string[] } } | undefined)?.catcher;
      return catcher?.ErrorEquals?.includes('States.HeartbeatTimeout') ?? false;
    }).length;
    return {
      holderS: holderMs / 1000,
      admittedAfterS: Math.round((admittedAt - queuedStart) / 1000),
      waits,
      heartbeatTimeouts,
      wakeUps: waits - heartbeatTimeouts,
      queuedHistoryEvents: estimate.historyEvents,
      historyBudget: QUEUED_HISTORY_BUDGET,
      queuedTransitions: estimate.transitions,
      queuedCostUsd: Math.round(costUsd(estimate.transitions) * 1e6) / 1e6,
    };
  } finally {
    await pipeline?.close();
    await rm(dir, { recursive: true, force: true });
  }
}
