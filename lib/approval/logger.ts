import type { Logger } from './types';

/** A logger writing one JSON object per line (what CloudWatch Logs Insights parses). */
export function jsonLogger(
  write: (line: string) => void = (line) => {
    process.stdout.write(line);
  },
): Logger {
  const emit = (level: string, message: string, fields?: Readonly<Record<string, unknown>>): void => {
    write(`${JSON.stringify({ level, time: new Date().toISOString(), message, ...fields }, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v))}\n`);
  };
  return {
    info: (message, fields) => emit('info', message, fields),
    warn: (message, fields) => emit('warn', message, fields),
    error: (message, fields) => emit('error', message, fields),
  };
}
