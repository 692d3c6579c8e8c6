/**
 * Simulated time for the makespan and queue measurements: a small discrete-event scheduler.
 *
 * The runner stand-ins await {@link VirtualClock.sleep} instead of working; everything else (the
 * engine, the pipeline function over dynalite) runs for real. {@link VirtualClock.run} moves
 * virtual time to the earliest pending deadline only once the process has nothing else to do:
 * no tracked call is in flight (the pipeline function's DynamoDB round trips are real I/O, so
 * they are tracked with {@link VirtualClock.track}) and a few event-loop turns passed without a
 * new sleep or call starting. So a Map iteration that ends frees its slot, the engine starts the
 * next one, and that runner starts at the same virtual instant, as MaxConcurrency dictates.
 */
import { BenchRunError } from './errors';

interface Sleeper {
  at: number;
  seq: number;
  resolve: () => void;
}

/** Event-loop turns that must pass quietly before time moves. */
const QUIET_TURNS = 4;
/** Real time the scheduler waits for progress (nothing sleeps, or a tracked call never ends) before calling it stuck. */
const STUCK_AFTER_MS = 30_000;

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The simulated clock; see the file comment. */
export class VirtualClock {
  private nowMs = 0;
  private seq = 0;
  private readonly sleepers: Sleeper[] = [];
  private inFlight = 0;
  /** Bumped whenever a sleep or tracked call starts or ends: "something happened". */
  private activity = 0;
  private idleWaiters: (() => void)[] = [];

  /** @param epochMs the wall-clock date virtual time 0 stands for (for the functions' clocks) */
  constructor(readonly epochMs = Date.UTC(2026, 0, 1)) {}

  /** Virtual milliseconds since the start. */
  get elapsedMs(): number {
    return this.nowMs;
  }

  /** The virtual date, for clocks handed to the code under test. */
  now(): Date {
    return new Date(this.epochMs + this.nowMs);
  }

  /** Resolves when virtual time has moved `ms` further. */
  sleep(ms: number): Promise<void> {
    this.activity++;
    return new Promise((resolve) => {
      const sleeper = { at: this.nowMs + Math.max(0, ms), seq: this.seq++, resolve };
      // Kept sorted by deadline, then start order: ties wake in the order they slept.
      let i = this.sleepers.length;
      while (i > 0 && (this.sleepers[i - 1]!.at > sleeper.at || (this.sleepers[i - 1]!.at === sleeper.at && this.sleepers[i - 1]!.seq > sleeper.seq))) i--;
      this.sleepers.splice(i, 0, sleeper);
    });
  }

  /** Marks real work (I/O) in flight: time does not move until it settles. */
  async track<T>(work: () => Promise<T>): Promise<T> {
    this.inFlight++;
    this.activity++;
    try {
      return await work();
    } finally {
      this.inFlight--;
      this.activity++;
      if (this.inFlight === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private async settle(): Promise<void> {
    for (;;) {
      if (this.inFlight > 0) {
        let timer: NodeJS.Timeout | undefined;
        const idle = new Promise<boolean>((r) => this.idleWaiters.push(() => r(true)));
        const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STUCK_AFTER_MS)));
        const settled = await Promise.race([idle, late]);
        clearTimeout(timer);
        if (!settled) throw new BenchRunError(`a tracked call has not ended after ${STUCK_AFTER_MS / 1000} s of real time (tracked work must not wait on virtual time)`);
      }
      const before = this.activity;
      for (let i = 0; i < QUIET_TURNS; i++) await turn();
      if (this.inFlight === 0 && this.activity === before) return;
    }
  }

  /**
   * Drives virtual time until `done` settles and returns its value.
   * @throws BenchRunError when nothing sleeps, nothing runs and `done` has not settled for {@link STUCK_AFTER_MS}
   */
  async run<T>(done: Promise<T>): Promise<T> {
    let finished = false;
    const watched = done.finally(() => {
      finished = true;
    });
    watched.catch(() => undefined);
    let idleSince: number | undefined;
    while (!finished) {
      await this.settle();
      if (finished) break;
      const next = this.sleepers[0];
      if (!next) {
        // Nothing sleeps: a real timer (a retry interval) may still be pending.
        idleSince ??= Date.now();
        if (Date.now() - idleSince > STUCK_AFTER_MS) throw new BenchRunError(`the simulated run stopped making progress at virtual ${this.nowMs / 1000} s`);
        await pause(5);
        continue;
      }
      idleSince = undefined;
      this.nowMs = Math.max(this.nowMs, next.at);
      while (this.sleepers[0] && this.sleepers[0].at <= this.nowMs) {
        this.activity++;
        this.sleepers.shift()!.resolve();
      }
    }
    return watched;
  }
}
