import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError } from './errors';
import { parseConfig } from './parse';
import type { Config } from './schema';

export { formatPath, parseConfig } from './parse';

/** Parses YAML text and validates it. YAML syntax errors are reported with their line. */
export function parseConfigText(text: string, file = 'config'): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0].line ?? '?'}`, received: 'invalid YAML', expected: e.message.split('\n')[0] ?? 'valid YAML' })),
    );
  }
  return parseConfig(doc.toJS(), file);
}

/** Reads and validates a config file: the one loader CDK, the local mode and the CLI share. */
export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, [
      { path: '', received: code === 'ENOENT' ? 'no such file' : `unreadable file (${code ?? String(err)})`, expected: 'a readable tfstep YAML config file' },
    ]);
  }
  return parseConfigText(text, file);
}
