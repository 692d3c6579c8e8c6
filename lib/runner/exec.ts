/**
 * Child processes of the runner: never through a shell, always with an explicit environment,
 * output streamed line by line through the masking logger.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import * as path from 'node:path';
import type { Interruption } from './interrupt';
import { LineSplitter, type Logger } from './logger';

/** How a child ended. `stdout` is only filled when it was captured instead of logged. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link exec}. */
export interface ExecOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  logger: Logger;
  /** Keep stdout in memory instead of logging it (plan JSON holds attribute values). */
  captureStdout?: boolean;
  /** Log stderr lines (true by default). */
  logStderr?: boolean;
  /**
   * Forwards a stop request to the child as SIGINT. The child then runs in its own process
   * group, so a terminal's Ctrl-C reaches it only through the runner, once.
   */
  interruption?: Interruption;
}

/** Runs `file args...` (no shell) and resolves when it exits; rejects only if it cannot start. */
export function exec(file: string, args: readonly string[], opts: ExecOptions): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      shell: false,
      detached: opts.interruption !== undefined,
    });
    if (opts.interruption && child.pid !== undefined) opts.interruption.track(child);
    const out: string[] = [];
    const err: string[] = [];
    const outLines = new LineSplitter((l) => opts.logger.info(l));
    const errLines = new LineSplitter((l) => {
      err.push(l);
      if (opts.logStderr !== false) opts.logger.info(l);
    });
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (c: string) => (opts.captureStdout ? out.push(c) : outLines.push(c)));
    child.stderr.on('data', (c: string) => errLines.push(c));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      outLines.end();
      errLines.end();
      resolve({ code: code ?? (signal ? 128 : 1), stdout: out.join(''), stderr: err.join('\n') });
    });
  });
}

/** The absolute path of an executable `name` found on `searchPath`, or undefined. */
export function which(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    // An empty or relative PATH entry would resolve against the checkout: skip it.
    if (!dir || !path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
