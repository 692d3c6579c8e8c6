/**
 * The structured logger of the central functions and the pipeline steps: one JSON object per
 * line, which CloudWatch Logs Insights parses. (The runner has its own line logger, which masks
 * secrets in terraform's output: a different job.)
 */

/** Fields of one log entry. */
export type LogFields = Readonly<Record<string, unknown>>;

/** Where tfstep code writes its log lines. Never put a token, a signature or a key here. */
export interface Logger {
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Errors serialise as `{}` by default; keep their name and message (never their full object). */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/**
 * A logger writing one JSON object per line: `level`, `time`, `message`, then `base` and the
 * entry's fields. The writer is injectable so tests can capture the lines and the local mode can
 * redirect them.
 */
export function jsonLogger(
  write: (line: string) => void = (line) => {
    process.stdout.write(line);
  },
  base: LogFields = {},
): Logger {
  const emit = (level: string, message: string, fields?: LogFields): void => {
    write(`${JSON.stringify({ level, time: new Date().toISOString(), message, ...base, ...fields }, errorReplacer)}\n`);
  };
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** A logger that keeps every entry in memory, for tests and the benchmark. */
export interface MemoryLogger extends Logger {
  readonly entries: { level: 'info' | 'warn' | 'error'; message: string; fields: LogFields }[];
}

/** Creates a {@link MemoryLogger}. */
export function memoryLogger(): MemoryLogger {
  const entries: MemoryLogger['entries'] = [];
  return {
    entries,
    info: (message, fields = {}) => entries.push({ level: 'info', message, fields }),
    warn: (message, fields = {}) => entries.push({ level: 'warn', message, fields }),
    error: (message, fields = {}) => entries.push({ level: 'error', message, fields }),
  };
}
