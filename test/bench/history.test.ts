import type { HistoryEvent } from '../../lib/local/engine/engine';
import { benchConfigInput } from '../../bench/fixture';
import { BenchInputError } from '../../bench/errors';
import { AWS_HISTORY_EVENTS, costUsd, estimateExecution, largestPayloadBytes } from '../../bench/history';
import { listScheduleMakespan, seededRandom, simulatedDurations } from '../../bench/makespan';
import { VirtualClock } from '../../bench/virtual-clock';
import { parseBenchArgs } from '../../bench/run';

/** A definition with a Map of the given mode: Start (Task) -> Fan (Map: Run .sync, Record) -> Done (Succeed). */
function definition(mode: 'INLINE' | 'DISTRIBUTED') {
  return {
    StartAt: 'Start',
    States: {
      Start: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Next: 'Fan' },
      Fan: {
        Type: 'Map',
        ItemProcessor: {
          ProcessorConfig: { Mode: mode },
          StartAt: 'Run',
          States: {
            Run: { Type: 'Task', Resource: 'arn:aws:states:::ecs:runTask.sync', Next: 'Record' },
            Record: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', End: true },
          },
        },
        Next: 'Done',
      },
      Done: { Type: 'Succeed' },
    },
  };
}

let t = 0;
const entered = (name: string, type: string, index?: number, input: unknown = {}): HistoryEvent => ({ type: 'StateEntered', timestamp: t++, state: { name, type, input }, ...(index === undefined ? {} : { index }) });
const exited = (name: string, type: string, index?: number, output: unknown = {}): HistoryEvent => ({ type: 'StateExited', timestamp: t++, state: { name, type, input: {}, output }, ...(index === undefined ? {} : { index }) });
const iteration = (kind: 'MapIterationStarted' | 'MapIterationSucceeded', index: number): HistoryEvent => ({ type: kind, timestamp: t++, index, parentState: { name: 'Fan', type: 'Map', input: {} } });

/** The log of a run over `items` Map items, one retry of Run in item 0. */
function log(items: number): HistoryEvent[] {
  const events: HistoryEvent[] = [{ type: 'ExecutionStarted', timestamp: t++ }, entered('Start', 'Task'), exited('Start', 'Task'), entered('Fan', 'Map')];
  for (let i = 0; i < items; i++) {
    events.push(iteration('MapIterationStarted', i), entered('Run', 'Task', i));
    if (i === 0) events.push({ type: 'StateRetried', timestamp: t++, index: i, state: { name: 'Run', type: 'Task', input: {} } });
    events.push(exited('Run', 'Task', i), entered('Record', 'Task', i), exited('Record', 'Task', i), iteration('MapIterationSucceeded', i));
  }
  events.push(exited('Fan', 'Map'), entered('Done', 'Succeed'), exited('Done', 'Succeed'), { type: 'ExecutionSucceeded', timestamp: t++ });
  return events;
}

describe('history estimator', () => {
  const E = AWS_HISTORY_EVENTS;
  const syncTask = E.task + E.taskSubmitted;
  const retry = E.taskRetry + E.taskSubmitted;

  it('counts every state entered, inside Map iterations too, and each retry, as transitions', () => {
    // GIVEN a run over 3 items with one retry
    // WHEN it is estimated
    const estimate = estimateExecution(log(3), definition('INLINE'));
    // THEN Start, Fan, Done, 3 x (Run, Record) and the retry are billed
    expect(estimate.transitions).toBe(3 + 3 * 2 + 1);
    expect(estimate.entriesByState).toEqual({ Start: 1, Fan: 1, Run: 3, Record: 3, Done: 1 });
    expect(costUsd(estimate.transitions)).toBeCloseTo((10 * 0.025) / 1000, 12);
  });

  it('puts inline Map iterations in the parent history with the per-state mapping', () => {
    // GIVEN an inline Map
    // WHEN the log is estimated
    const estimate = estimateExecution(log(3), definition('INLINE'));
    // THEN everything is one history
    const perItem = E.mapIteration + syncTask + E.task;
    expect(estimate.historyEvents).toBe(E.execution + E.task + E.mapState + 3 * perItem + retry + E.simpleState);
    expect(estimate.parentHistoryEvents).toBe(estimate.historyEvents);
    expect(estimate.childExecutions).toBe(0);
  });

  it('treats Distributed Map iterations as child executions and reports the largest history', () => {
    // GIVEN the same log, but the Map runs in DISTRIBUTED mode
    // WHEN it is estimated
    const estimate = estimateExecution(log(3), definition('DISTRIBUTED'));
    // THEN the parent keeps only the Map state, and the retried child is the largest child
    expect(estimate.parentHistoryEvents).toBe(E.execution + E.task + E.mapState + E.simpleState);
    expect(estimate.childExecutions).toBe(3);
    expect(estimate.largestChildHistoryEvents).toBe(E.execution + syncTask + retry + E.task);
    expect(estimate.historyEvents).toBe(Math.max(estimate.parentHistoryEvents, estimate.largestChildHistoryEvents));
    // AND each child execution the Map starts is billed one transition on top of its states'
    expect(estimate.transitions).toBe(10 + 3);
  });

  it("counts nothing for the local engine's own states and leaves the items they hold out of the payload", () => {
    // GIVEN the DISTRIBUTED log with the local ItemReader stand-in before the Map, holding big items in $.localItems
    const items = Array.from({ length: 200 }, (_, i) => ({ name: `acct-${i}`, pad: 'x'.repeat(1000) }));
    const events = log(3);
    const at = events.findIndex((e) => e.type === 'StateEntered' && (e.state as { name: string }).name === 'Fan');
    events.splice(at, 0, entered('FanReadItems', 'Task'), exited('FanReadItems', 'Task', undefined, { localItems: items, small: true }));
    events.splice(at + 2, 1, entered('Fan', 'Map', undefined, { localItems: items, small: true }));
    // WHEN estimated THEN the figures are those without the stand-in
    const without = estimateExecution(log(3), definition('DISTRIBUTED'));
    const withReader = estimateExecution(events, definition('DISTRIBUTED'));
    expect(withReader.transitions).toBe(without.transitions);
    expect(withReader.parentHistoryEvents).toBe(without.parentHistoryEvents);
    // AND the largest payload is the state without its local items
    expect(largestPayloadBytes(events)).toBe(Buffer.byteLength(JSON.stringify({ small: true })));
  });

  it('measures the largest state payload once per shared object', () => {
    // GIVEN a log whose Map input is large and shared by reference
    const big = { accounts: 'x'.repeat(5000) };
    const events = [entered('Fan', 'Map', undefined, big), entered('Run', 'Task', 0, big), exited('Fan', 'Map', undefined, { ok: true })];
    // WHEN measured
    // THEN the figure is that input's JSON size
    expect(largestPayloadBytes(events)).toBe(Buffer.byteLength(JSON.stringify(big)));
  });
});

describe('simulated time', () => {
  it('wakes sleepers in deadline order and moves only when tracked work is done', async () => {
    // GIVEN three sleepers and tracked work that starts a fourth sleep when it ends
    const clock = new VirtualClock();
    const woke: string[] = [];
    const at = (label: string) => () => woke.push(`${label}@${clock.elapsedMs}`);
    const work = clock
      .track(async () => {
        await new Promise((r) => setTimeout(r, 30));
      })
      .then(() => clock.sleep(5))
      .then(at('after-work'));
    const all = Promise.all([clock.sleep(300).then(at('c')), clock.sleep(100).then(at('a')), clock.sleep(100).then(at('b')), work]);
    // WHEN the clock drives them
    await clock.run(all);
    // THEN the sleep started by the work counts from virtual 0, not from a later instant
    expect(woke).toEqual(['after-work@5', 'a@100', 'b@100', 'c@300']);
  });

  it('draws the same durations from the same seed and different ones from another', () => {
    // GIVEN two draws with one seed and one with another
    const a = simulatedDurations(50, 7);
    const b = simulatedDurations(50, 7);
    const c = simulatedDurations(50, 8);
    // THEN the first two agree, the third does not, and every task starts in 50-70 s
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    for (const d of a) {
      expect(d.startS).toBeGreaterThanOrEqual(50);
      expect(d.startS).toBeLessThanOrEqual(70);
      expect(d.applyS).toBeGreaterThan(0);
    }
    expect(seededRandom(1)()).toBe(seededRandom(1)());
  });

  it('schedules items in order on bounded slots', () => {
    // GIVEN durations 5, 3, 4, 2 on 2 slots: [5 | 3, 4 -> 7] then 2 on the slot free at 5
    // THEN the makespan is 7; on 1 slot it is the sum
    expect(listScheduleMakespan([5, 3, 4, 2], 2)).toBe(7);
    expect(listScheduleMakespan([5, 3, 4, 2], 1)).toBe(14);
    expect(listScheduleMakespan([5, 3, 4, 2], 40)).toBe(5);
  });
});

describe('bench input', () => {
  it('fails when an account count is not a positive whole number', () => {
    expect(() => benchConfigInput(0)).toThrow(BenchInputError);
    expect(() => benchConfigInput(1.5)).toThrow(/expected a whole number from 1 to 20000/);
    expect(() => benchConfigInput(20_001)).toThrow(BenchInputError);
    // 10,000 accounts is a usable size
    expect(benchConfigInput(10_000).accounts).toHaveLength(10_000);
  });

  it('fails when an option is unknown or a size is not usable', () => {
    expect(() => parseBenchArgs(['--fast'])).toThrow(/unknown option --fast; expected --full/);
    expect(() => parseBenchArgs(['--sizes', '1,0'])).toThrow(/--sizes 0 is not usable/);
    expect(() => parseBenchArgs(['--out'])).toThrow(/--out needs a file path/);
  });

  it('reads --full, --quick and sizes', () => {
    expect(parseBenchArgs(['--full']).fanoutTimeLimitS).toBeUndefined();
    expect(parseBenchArgs([]).sizes).toEqual([1, 10, 100, 1000, 10000]);
    expect(parseBenchArgs(['--only', 'fanout,waves']).only).toEqual(['fanout', 'waves']);
    expect(() => parseBenchArgs(['--only', 'fanout,speed'])).toThrow(/--only fanout,speed is not usable; expected rows from fanout, waves, makespan, queued, webhook, dashboard/);
    expect(parseBenchArgs(['--quick', '--sizes', '2,3']).sizes).toEqual([2, 3]);
  });
});
