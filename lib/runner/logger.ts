/**
 * The runner's only output channel: one line at a time, every registered secret masked.
 * Lines go to stdout (CloudWatch Logs in ECS) and are kept so the log can be stored as an
 * artifact; refusals go to stderr as exactly one line.
 */
/** Where masked lines are written: process.stdout / process.stderr, or a collector in tests. */
export interface LineSink {
  write(chunk: string): unknown;
}

import { DEFAULT_REDACTION, redactText, REDACTED, type Redaction } from '../domain/redact';

/** The text that replaces a secret in every line. */
export const MASK = '***';

/** The first and last line of a PEM private key, which tools print line by line. */
const KEY_BEGIN = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const KEY_END = /-----END [A-Z ]*PRIVATE KEY-----/;

/** Masks secrets in lines before they leave the process. */
export class Logger {
  private readonly secrets: Set<string>;
  private readonly kept: string[];
  private readonly prefix: string;
  private readonly state: { redaction: Redaction; inKey: boolean };

  /**
   * @param out where log lines go (process.stdout in the container)
   * @param err where the one refusal line goes (process.stderr in the container)
   */
  constructor(
    private readonly out: LineSink,
    private readonly err: LineSink,
    shared?: { secrets: Set<string>; kept: string[]; prefix: string; state: { redaction: Redaction; inKey: boolean } },
  ) {
    this.secrets = shared?.secrets ?? new Set<string>();
    this.kept = shared?.kept ?? [];
    this.prefix = shared?.prefix ?? '';
    this.state = shared?.state ?? { redaction: DEFAULT_REDACTION, inKey: false };
  }

  /** Sets the name and value patterns every line is redacted with (the policy's `redact`). */
  setRedaction(redaction: Redaction): void {
    this.state.redaction = redaction;
  }

  /**
   * The same log with `prefix` before every line (`[dev/app] `): for a module's tool output when
   * several modules run at once. Secrets and kept lines are shared with this logger.
   */
  withPrefix(prefix: string): Logger {
    return new Logger(this.out, this.err, { secrets: this.secrets, kept: this.kept, prefix: this.prefix + prefix, state: this.state });
  }

  /**
   * Registers a secret: from now on it never appears in a line. Each line of a multi-line
   * secret (an SSH key) is registered too, since tools print keys line by line.
   */
  addSecret(value: string): void {
    const candidates = [value, ...value.split(/\r?\n/)].map((s) => s.trim());
    for (const s of candidates) {
      // Very short fragments ("-----", "") would mask ordinary text and hide nothing.
      if (s.length >= 6 && !/^-----(BEGIN|END) [A-Z ]+-----$/.test(s)) this.secrets.add(s);
    }
  }

  /**
   * The text with every registered secret replaced by {@link MASK}, then every value of a
   * secret shape or under a secret name (see lib/domain/redact.ts) by {@link REDACTED}.
   */
  mask(text: string): string {
    let out = text;
    // Longest first, so a secret containing another is masked whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(MASK);
    return redactText(out, this.state.redaction);
  }

  /** One line as written: a line inside a private key printed line by line is hidden whole. */
  private maskLine(line: string): string {
    if (this.state.inKey) {
      if (KEY_END.test(line)) this.state.inKey = false;
      return REDACTED;
    }
    if (KEY_BEGIN.test(line) && !KEY_END.test(line)) {
      this.state.inKey = true;
      return this.mask(line.replace(/-----BEGIN [A-Z ]*PRIVATE KEY-----.*$/, REDACTED));
    }
    return this.mask(line);
  }

  /** Writes one or more lines to stdout, masked. */
  info(text: string): void {
    for (const line of text.replace(/\r?\n$/, '').split(/\r?\n/)) {
      const masked = this.prefix + this.maskLine(line);
      this.kept.push(masked);
      this.out.write(`${masked}\n`);
    }
  }

  /** Writes the single refusal or failure line to stderr (and keeps it in the log). */
  error(text: string): void {
    const masked = this.prefix + this.mask(text.replace(/\r?\n/g, ' ').trim());
    this.kept.push(masked);
    this.err.write(`${masked}\n`);
  }

  /** Every line written so far, masked: stored as the phase log artifact. */
  lines(): readonly string[] {
    return this.kept;
  }
}

/** Splits a stream of chunks into whole lines, so no line is masked in two halves. */
export class LineSplitter {
  private buffer = '';

  constructor(private readonly onLine: (line: string) => void) {}

  /** Feeds a chunk; emits each completed line. */
  push(chunk: string): void {
    this.buffer += chunk;
    let i: number;
    while ((i = this.buffer.indexOf('\n')) >= 0) {
      this.onLine(this.buffer.slice(0, i).replace(/\r$/, ''));
      this.buffer = this.buffer.slice(i + 1);
    }
  }

  /** Emits what is left after the stream ends. */
  end(): void {
    if (this.buffer !== '') this.onLine(this.buffer);
    this.buffer = '';
  }
}
