/**
 * What a local run is doing, as the engine sees it: a tracker fed by the local functions and the
 * runner launcher (so it sees exactly what the state machine does) and the report it builds.
 * Drawing it on a terminal is the UI's business (lib/local/ui/progress.ts).
 */
import type { AccountOutcome, RunStatus } from '../../statemachine/contracts';
import type { RunnerEvent } from './runner-launcher';

/** Status of an account or a stage as the local views show it. */
export type ProgressStatus = 'pending' | 'running' | 'planned' | 'waiting for approval' | 'planning again' | 'succeeded' | 'failed' | 'rejected' | 'expired' | 'not run';

/** One module in the final report. */
export interface ReportModule {
  path: string;
  status: string;
  plan?: { add: number; change: number; destroy: number };
  /** `skipped`: the upstream module of the same task that did not succeed, so this one never ran. */
  skippedBecause?: string;
}

/** One account in the final report. */
export interface ReportAccount {
  name: string;
  status: ProgressStatus;
  modules: ReportModule[];
  /** Wall time the account's runner tasks took, in ms. */
  durationMs?: number;
  /** Why it failed, and where its log is. */
  reason?: string;
  logFile?: string;
  /** The account's rollout wave in its stage (0 first). */
  wave?: number;
}

/** One rollout wave of a stage in the final report: what ran, failed and never started. */
export interface ReportWave {
  /** 1 for the first wave. */
  wave: number;
  status: 'succeeded' | 'failed' | 'running' | 'pending' | 'not started';
  accounts: string[];
  failed: string[];
  notStarted: string[];
}

/** One stage in the final report. */
export interface ReportStage {
  name: string;
  status: ProgressStatus;
  accounts: ReportAccount[];
  /** Only for a stage that rolls out in more than one wave. */
  waves?: ReportWave[];
}

/** The `--json` document. */
export interface RunReport {
  executionId: string;
  executionName: string;
  status: RunStatus;
  reason?: string;
  stages: ReportStage[];
}

interface AccountState {
  name: string;
  status: ProgressStatus;
  modules: Map<string, ReportModule>;
  startedAt?: number;
  busyMs: number;
  phase?: string;
  reason?: string;
  logFile?: string;
  wave?: number;
}

interface StageState {
  name: string;
  status: ProgressStatus;
  accounts: Map<string, AccountState>;
}

/** Statuses an account or stage does not leave. */
export const TERMINAL: ReadonlySet<ProgressStatus> = new Set(['succeeded', 'failed', 'rejected', 'expired', 'not run']);

/** Follows one execution; every `on...` method is a hook the local session calls. */
export class RunTracker {
  private readonly stages: StageState[] = [];
  status: RunStatus | undefined;
  reason: string | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    readonly executionId: string,
    readonly executionName: string,
  ) {}

  /** Called after every change. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  private stage(name: string): StageState | undefined {
    return this.stages.find((s) => s.name === name);
  }

  private account(name: string): AccountState | undefined {
    for (const s of this.stages) {
      const a = s.accounts.get(name);
      if (a) return a;
    }
    return undefined;
  }

  /** The targets step answered: the stages, accounts and modules this run will touch. */
  onTargets(stages: readonly { name: string; accounts: readonly { name: string; modules: readonly string[]; wave?: number }[] }[]): void {
    this.stages.length = 0;
    for (const s of stages) {
      const accounts = new Map<string, AccountState>();
      for (const a of s.accounts) {
        accounts.set(a.name, { name: a.name, status: 'pending', busyMs: 0, wave: a.wave, modules: new Map(a.modules.map((m) => [m, { path: m, status: 'pending' }])) });
      }
      this.stages.push({ name: s.name, status: 'pending', accounts });
    }
    this.changed();
  }

  /** A runner task started or stopped. */
  onRunner(event: RunnerEvent): void {
    const account = this.account(event.account);
    const stage = this.stage(event.stage);
    if (!account) return;
    if (event.kind === 'started') {
      account.status = 'running';
      account.phase = event.phase;
      account.startedAt = event.at.getTime();
      account.logFile = event.logFile;
      if (stage && !TERMINAL.has(stage.status)) stage.status = 'running';
    } else {
      account.busyMs += event.durationMs;
      account.startedAt = undefined;
    }
    this.changed();
  }

  /** record-account answered for one account. */
  onAccountOutcome(outcome: AccountOutcome): void {
    const account = this.account(outcome.account);
    if (!account) return;
    for (const m of outcome.modules) {
      const prev = account.modules.get(m.path);
      const plan = m.plan ? { add: m.plan.add, change: m.plan.change, destroy: m.plan.destroy } : prev?.plan;
      account.modules.set(m.path, { path: m.path, status: m.status, ...(plan ? { plan } : {}), ...(m.skippedBecause ? { skippedBecause: m.skippedBecause } : {}) });
    }
    if (!outcome.ok) {
      account.status = 'failed';
      account.reason = outcome.reason;
    } else account.status = outcome.phase === 'plan' ? 'planned' : 'succeeded';
    this.changed();
  }

  /**
   * stage-complete answered. `replan`: the apply held modules back because their plans changed
   * after their upstreams applied; the stage plans them again and asks for approval again.
   */
  onStageComplete(stageName: string, phase: string, failed: boolean, replan = false): void {
    const stage = this.stage(stageName);
    if (!stage) return;
    stage.status = failed ? 'failed' : replan ? 'planning again' : phase === 'plan' ? 'waiting for approval' : 'succeeded';
    if (!failed && phase === 'plan') for (const a of stage.accounts.values()) if (a.status === 'planned') a.status = 'waiting for approval';
    this.changed();
  }

  /** The approval step was decided (or timed out). */
  onApprovalSettled(stageName: string, outcome: 'approved' | 'rejected' | 'expired'): void {
    const stage = this.stage(stageName);
    if (!stage) return;
    if (outcome === 'approved') {
      stage.status = 'running';
      for (const a of stage.accounts.values()) if (a.status === 'waiting for approval') a.status = 'pending';
    } else {
      stage.status = outcome;
      for (const a of stage.accounts.values()) if (!TERMINAL.has(a.status)) a.status = outcome;
    }
    this.changed();
  }

  /** The run ended. Stages and accounts that never started are marked so. */
  onFinished(status: RunStatus, reason?: string): void {
    this.status = status;
    this.reason = reason;
    for (const s of this.stages) {
      for (const a of s.accounts.values()) {
        if (!TERMINAL.has(a.status)) a.status = status === 'REJECTED' ? 'rejected' : status === 'EXPIRED' ? 'expired' : 'not run';
        for (const m of a.modules.values()) if (m.status === 'pending') m.status = 'not-run';
      }
      if (!TERMINAL.has(s.status)) {
        const statuses = [...s.accounts.values()].map((a) => a.status);
        s.status = statuses.every((x) => x === 'succeeded') ? 'succeeded' : statuses.every((x) => x === 'not run') ? 'not run' : statuses.some((x) => x === 'failed') ? 'failed' : (statuses[0] ?? 'not run');
      }
    }
    this.changed();
  }

  /** Accounts that failed, with their reason and log file. */
  failedAccounts(): ReportAccount[] {
    return this.report().stages.flatMap((s) => s.accounts.filter((a) => a.status === 'failed'));
  }

  /** The report as it stands. */
  report(now = Date.now()): RunReport {
    return {
      executionId: this.executionId,
      executionName: this.executionName,
      status: this.status ?? 'FAILED',
      ...(this.reason ? { reason: this.reason } : {}),
      stages: this.stages.map((s) => {
        const waves = wavesOf([...s.accounts.values()]);
        return {
          name: s.name,
          status: s.status,
          accounts: [...s.accounts.values()].map((a) => ({
            name: a.name,
            status: a.status,
            modules: [...a.modules.values()],
            durationMs: a.busyMs + (a.startedAt !== undefined ? now - a.startedAt : 0),
            ...(a.reason ? { reason: a.reason } : {}),
            ...(a.logFile ? { logFile: a.logFile } : {}),
            ...(a.wave !== undefined ? { wave: a.wave } : {}),
          })),
          ...(waves ? { waves } : {}),
        };
      }),
    };
  }

  /** The account being run right now, with its phase (for the live view). */
  phaseOf(account: string): string | undefined {
    return this.account(account)?.phase;
  }
}

/** A stage's accounts wave by wave, or undefined when the stage has one wave. */
function wavesOf(accounts: readonly AccountState[]): ReportWave[] | undefined {
  const count = accounts.reduce((n, a) => Math.max(n, (a.wave ?? 0) + 1), 1);
  if (count < 2) return undefined;
  const waves: ReportWave[] = [];
  for (let w = 0; w < count; w++) {
    const members = accounts.filter((a) => (a.wave ?? 0) === w);
    const failed = members.filter((a) => a.status === 'failed').map((a) => a.name);
    const notStarted = members.filter((a) => a.status === 'not run').map((a) => a.name);
    const status: ReportWave['status'] =
      notStarted.length === members.length
        ? 'not started'
        : failed.length > 0
          ? 'failed'
          : members.every((a) => a.status === 'succeeded')
            ? 'succeeded'
            : members.some((a) => a.status !== 'pending')
              ? 'running'
              : 'pending';
    waves.push({ wave: w + 1, status, accounts: members.map((a) => a.name), failed, notStarted });
  }
  return waves;
}
