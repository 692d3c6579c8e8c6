/**
 * Runner children outlive a tfstep process that is killed (SIGKILL, a crash, a closed laptop):
 * nothing stops them, and they go on planning or applying for a run that nobody drives any more.
 * Each runner child is therefore recorded under `<state dir>/runners/<pid>.json` while it runs,
 * and the next tfstep process on the state directory stops the runners of executions whose
 * process is gone.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

interface RunnerRecord {
  readonly pid: number;
  readonly execution: string;
  /** A string only this state directory's runners carry in their command line (the policy file). */
  readonly marker: string;
}

function runnersDir(stateDir: string): string {
  return path.join(path.resolve(stateDir), 'runners');
}

/** Records a runner child while it runs. */
export function recordRunner(stateDir: string, execution: string, pid: number, marker: string): void {
  mkdirSync(runnersDir(stateDir), { recursive: true });
  const record: RunnerRecord = { pid, execution, marker };
  writeFileSync(path.join(runnersDir(stateDir), `${pid}.json`), `${JSON.stringify(record)}\n`);
}

/** Forgets a runner child that has exited. */
export function forgetRunner(stateDir: string, pid: number): void {
  rmSync(path.join(runnersDir(stateDir), `${pid}.json`), { force: true });
}

/**
 * Whether a process runs. EPERM: it exists but belongs to someone else. A zombie (exited, not yet
 * reaped by its parent: orphans whose new parent does not reap, as in some containers) does not
 * run; `ps` tells, where it is installed.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    return !execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().startsWith('Z');
  } catch {
    // ps exits 1 when the process has gone meanwhile; without ps, kill's answer stands.
    return processExists(pid);
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a live process, or undefined (gone, or `ps` cannot say). */
function commandLine(pid: number): string | undefined {
  try {
    return execFileSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Stops the recorded runners whose execution has no live process behind it: SIGTERM, which the
 * runner passes to terraform as SIGINT so that it releases its state lock, then SIGKILL after
 * `graceMs`. A pid is only signalled while its command line still carries the runner's marker,
 * so a pid the system has since given to another program is left alone. Returns the pids stopped.
 */
export async function stopOrphanedRunners(stateDir: string, executionAlive: (execution: string) => boolean, graceMs = 10_000): Promise<number[]> {
  let files: string[];
  try {
    files = readdirSync(runnersDir(stateDir)).filter((f) => f.endsWith('.json'));
  } catch {
    return [];
  }
  const stopped: number[] = [];
  for (const file of files) {
    let record: RunnerRecord;
    try {
      record = JSON.parse(readFileSync(path.join(runnersDir(stateDir), file), 'utf8')) as RunnerRecord;
    } catch {
      continue;
    }
    if (executionAlive(record.execution)) continue;
    const isOurs = () => processAlive(record.pid) && (commandLine(record.pid)?.includes(record.marker) ?? false);
    if (isOurs()) {
      process.kill(record.pid, 'SIGTERM');
      const deadline = Date.now() + graceMs;
      while (isOurs() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (isOurs()) process.kill(record.pid, 'SIGKILL');
      stopped.push(record.pid);
    }
    forgetRunner(stateDir, record.pid);
  }
  return stopped;
}
