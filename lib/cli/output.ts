/**
 * Terminal output of the operator commands. Colours and progress only on a TTY and never with
 * NO_COLOR (https://no-color.org); `--json` output is one stable JSON document on stdout.
 */

/** Where output goes; `process.stdout`/`process.stderr` in the CLI, buffers in tests. */
export interface OutputStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

const CODES = { red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39], dim: [2, 22], bold: [1, 22] } as const;
type Style = keyof typeof CODES;

/** Whether colours may be used on a stream. */
export function colourEnabled(stream: OutputStream, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '') && env.TERM !== 'dumb';
}

/** Writes text, tables and JSON to stdout and remarks to stderr. */
export class Output {
  readonly colour: boolean;
  /** Whether transient progress may be shown (stderr is a terminal, colours allowed). */
  readonly progressEnabled: boolean;

  constructor(
    readonly out: OutputStream = process.stdout,
    readonly err: OutputStream = process.stderr,
    env: Readonly<Record<string, string | undefined>> = process.env,
  ) {
    this.colour = colourEnabled(out, env);
    this.progressEnabled = colourEnabled(err, env);
  }

  /** Wraps text in an ANSI style when colours are on. */
  style(style: Style, text: string): string {
    if (!this.colour) return text;
    const [on, off] = CODES[style];
    return `\u001b[${on}m${text}\u001b[${off}m`;
  }

  /** A status word coloured by meaning. */
  status(status: string): string {
    const s = status.toUpperCase();
    if (/FAIL|REJECT|EXPIRED|ABORT|TIMED_OUT|REFUSED/.test(s)) return this.style('red', status);
    if (/SUCCEED|APPLIED|PLANNED|APPROVED|OK/.test(s)) return this.style('green', status);
    if (/RUNNING|PENDING|WAIT|AWAITING/.test(s)) return this.style('yellow', status);
    return status;
  }

  line(text = ''): void {
    this.out.write(`${text}\n`);
  }

  /** A remark for the person at the terminal, kept off stdout so pipes get only data. */
  note(text: string): void {
    this.err.write(`${this.style('dim', text)}\n`);
  }

  /** Pretty-printed JSON, the stable `--json` form. */
  json(value: unknown): void {
    this.out.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** A left-aligned table; cell widths ignore ANSI codes. */
  table(headers: readonly string[], rows: readonly (readonly string[])[]): void {
    // eslint-disable-next-line no-control-regex -- ANSI escapes start with ESC
    const plain = (s: string): string => s.replace(/\u001b\[\d+m/g, '');
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => plain(r[i] ?? '').length)));
    const fmt = (cells: readonly string[]): string =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - plain(c).length)))
        .join('  ')
        .trimEnd();
    this.line(this.style('bold', fmt(headers)));
    for (const r of rows) this.line(fmt(r));
  }
}

// eslint-disable-next-line no-control-regex -- ANSI escapes start with ESC
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

/** The text without ANSI escape sequences (tools such as Terraform colour their output). */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/** `1h02m`, `3m05s`, `42s`, or `-` when unknown. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** The first 7 characters of a commit, or `-`. */
export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 7) : '-';
}
