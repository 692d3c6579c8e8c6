/**
 * What a local run shows: the engine's tracker (lib/local/engine/tracker.ts) drawn two ways, a
 * live table redrawn in place on a terminal and plain lines elsewhere, and the final `--json`
 * report.
 */
import { TERMINAL, type ProgressStatus, type RunReport, type RunTracker } from '../engine/tracker';

/** The `--json` document: only the documented fields. */
export function jsonReport(report: RunReport): unknown {
  return {
    executionId: report.executionId,
    status: report.status,
    ...(report.reason ? { reason: report.reason } : {}),
    stages: report.stages.map((s) => ({
      name: s.name,
      status: s.status,
      accounts: s.accounts.map((a) => ({
        name: a.name,
        status: a.status,
        ...(s.waves && a.wave !== undefined ? { wave: a.wave + 1 } : {}),
        modules: a.modules.map((m) => ({ path: m.path, status: m.status, ...(m.plan ? { plan: m.plan } : {}), ...(m.skippedBecause ? { skippedBecause: m.skippedBecause } : {}) })),
      })),
      ...(s.waves ? { waves: s.waves } : {}),
    })),
  };
}

function seconds(ms: number | undefined): string {
  return ms === undefined || ms === 0 ? '' : `${(ms / 1000).toFixed(1)}s`;
}

const MARK: Record<ProgressStatus, string> = {
  pending: '·',
  running: '▶',
  planned: '◆',
  'waiting for approval': '?',
  'planning again': '↻',
  succeeded: '✔',
  failed: '✘',
  rejected: '✘',
  expired: '⌛',
  'not run': '-',
};

/** The lines of the live view. */
export function renderLines(report: RunReport, phaseOf: (account: string) => string | undefined = () => undefined): string[] {
  const lines = [`tfstep local  ${report.executionName}`];
  if (report.stages.length === 0) lines.push('  (admitting the push and computing targets...)');
  for (const s of report.stages) {
    lines.push(`  ${MARK[s.status]} stage ${s.name}: ${s.status}`);
    for (const w of s.waves ?? []) lines.push(`    wave ${w.wave}: ${w.status}, ${w.accounts.length} account(s)${w.failed.length ? `, ${w.failed.length} failed` : ''}${w.notStarted.length && w.status !== 'not started' ? `, ${w.notStarted.length} not started` : ''}`);
    for (const a of s.accounts) {
      const phase = a.status === 'running' ? ` (${phaseOf(a.name) ?? 'task'})` : '';
      lines.push(`      ${MARK[a.status]} ${a.name.padEnd(20)} ${`${a.status}${phase}`.padEnd(34)} ${seconds(a.durationMs)}`);
    }
  }
  return lines;
}

/** Shows progress: redrawn in place on a terminal, as plain lines of changes elsewhere. */
export class ProgressView {
  private drawn = 0;
  private last = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private paused = false;

  constructor(
    private readonly tracker: RunTracker,
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean },
    private readonly live = Boolean(out.isTTY),
  ) {}

  /** Starts following the tracker. */
  start(): void {
    this.tracker.subscribe(() => this.update());
    if (this.live) {
      this.timer = setInterval(() => this.update(), 500);
      this.timer.unref();
    }
    this.update();
  }

  /** Stops redrawing (a prompt needs the terminal); {@link resume} draws afresh below it. */
  pause(): void {
    this.paused = true;
    this.drawn = 0;
  }

  resume(): void {
    this.paused = false;
    this.update();
  }

  /** Draws the last state and stops. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.paused = false;
    this.update();
    this.paused = true;
  }

  private update(): void {
    if (this.paused) return;
    const report = this.tracker.report();
    if (this.live) {
      const lines = renderLines(report, (a) => this.tracker.phaseOf(a));
      const up = this.drawn > 0 ? `\x1b[${this.drawn}F` : '';
      this.out.write(`${up}${lines.map((l) => `\x1b[2K${l}`).join('\n')}\n`);
      this.drawn = lines.length;
      return;
    }
    for (const s of report.stages) {
      const why = s.status === 'planning again' ? ': plans changed after their upstream modules applied, so they are planned and approved again' : '';
      this.plain(`stage ${s.name}`, `stage ${s.name}: ${s.status}${why}`, s.status);
      for (const a of s.accounts) {
        const phase = a.status === 'running' ? ` (${this.tracker.phaseOf(a.name) ?? 'task'})` : '';
        const took = TERMINAL.has(a.status) && a.durationMs ? ` in ${seconds(a.durationMs)}` : '';
        this.plain(`account ${a.name}`, `  ${s.name}/${a.name}: ${a.status}${phase}${took}`, `${a.status}${phase}`);
      }
    }
  }

  private plain(key: string, line: string, state: string): void {
    if (this.last.get(key) === state) return;
    this.last.set(key, state);
    this.out.write(`${line}\n`);
  }
}
