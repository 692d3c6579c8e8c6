import type { LogFields, Logger } from './types';

/**
 * A logger writing one JSON object per line (what CloudWatch Logs Insights parses). The writer
 * is injectable so tests can capture the lines and the local mode can redirect them.
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

/** Errors serialise as `{}` by default; keep their name and message (never their full object). */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

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

/** A logger that drops everything. */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
