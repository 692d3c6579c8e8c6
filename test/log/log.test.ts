import { jsonLogger, memoryLogger } from '../../lib/log';

describe('jsonLogger', () => {
  it('writes one JSON object per line: level, time, message, base fields, then the entry fields', () => {
    // GIVEN a logger with a base field, writing into an array
    const lines: string[] = [];
    const log = jsonLogger((line) => lines.push(line), { function: 'pipeline' });
    // WHEN it logs at each level
    log.info('started', { execution: 'e1' });
    log.warn('slow');
    log.error('failed', { execution: 'e2', function: 'override' });
    // THEN each entry is one line of JSON, fields after the base
    expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
    const entries = lines.map((l) => JSON.parse(l));
    expect(entries.map((e) => [e.level, e.message, e.function, e.execution])).toEqual([
      ['info', 'started', 'pipeline', 'e1'],
      ['warn', 'slow', 'pipeline', undefined],
      ['error', 'failed', 'override', 'e2'],
    ]);
    for (const e of entries) expect(new Date(e.time).toISOString()).toBe(e.time);
  });

  it('keeps an error to its name and message, never its stack or own properties', () => {
    // GIVEN an error carrying a property that must not be logged
    const lines: string[] = [];
    const err = Object.assign(new TypeError('bad input'), { token: 'secret-token' });
    // WHEN logged as a field
    jsonLogger((line) => lines.push(line)).error('refused', { err });
    // THEN only its name and message appear
    expect(JSON.parse(lines[0]!).err).toEqual({ name: 'TypeError', message: 'bad input' });
    expect(lines[0]).not.toContain('secret-token');
  });
});

describe('memoryLogger', () => {
  it('keeps the entries in order with their fields', () => {
    const log = memoryLogger();
    log.info('a', { n: 1 });
    log.error('b');
    expect(log.entries).toEqual([
      { level: 'info', message: 'a', fields: { n: 1 } },
      { level: 'error', message: 'b', fields: {} },
    ]);
  });
});
