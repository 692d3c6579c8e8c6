/**
 * The installed CLI, started as a separate process the ways users start it: `node bin/tfstep.cjs`,
 * through the two symlinks `npm link` makes (a global bin link to a package folder that is itself
 * a link to the checkout), and through `node_modules/.bin` as `npx` finds it. Also: a reader that
 * goes away early (`| head`) ends the command quietly.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const CHECKOUT = path.resolve(__dirname, '..', '..');
const BIN = path.join(CHECKOUT, 'bin', 'tfstep.cjs');

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'tfstep-entry-'));
}

function runHelp(executable: string): { status: number | null; stdout: string; stderr: string } {
  const res = spawnSync(executable, ['--help'], { encoding: 'utf8', cwd: os.tmpdir(), timeout: 30_000 });
  return { status: res.status, stdout: res.stdout, stderr: res.stderr };
}

describe('the tfstep executable', () => {
  it('runs as node bin/tfstep.cjs', () => {
    const res = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain('Usage: tfstep');
    expect(res.status).toBe(0);
  });

  it('runs through the symlinks npm link makes', () => {
    const prefix = tempDir();
    mkdirSync(path.join(prefix, 'lib', 'node_modules'), { recursive: true });
    mkdirSync(path.join(prefix, 'bin'));
    symlinkSync(CHECKOUT, path.join(prefix, 'lib', 'node_modules', 'tfstep'));
    symlinkSync('../lib/node_modules/tfstep/bin/tfstep.cjs', path.join(prefix, 'bin', 'tfstep'));
    const res = runHelp(path.join(prefix, 'bin', 'tfstep'));
    expect(res.stderr).toBe('');
    expect(res.stdout).toContain('Usage: tfstep');
    expect(res.stdout).toContain('local');
    expect(res.status).toBe(0);
  });

  it('runs through a node_modules/.bin link, as npx starts it', () => {
    const project = tempDir();
    mkdirSync(path.join(project, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(CHECKOUT, path.join(project, 'node_modules', 'tfstep'));
    symlinkSync('../tfstep/bin/tfstep.cjs', path.join(project, 'node_modules', '.bin', 'tfstep'));
    const res = runHelp(path.join(project, 'node_modules', '.bin', 'tfstep'));
    expect(res.stdout).toContain('Usage: tfstep');
    expect(res.status).toBe(0);
  });
});

/** Starts the CLI with its stdout (and stderr) pipes closed by the reader before it writes. */
function runWithClosedPipes(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // The reader leaves at once, as `head` does once it has its lines: every later write by the
    // CLI meets a pipe with no reader (EPIPE).
    child.stdout.destroy();
    const stderr: string[] = [];
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr: stderr.join('') }));
  });
}

describe('a reader that goes away', () => {
  it('--help into a closed pipe stops quietly', async () => {
    const res = await runWithClosedPipes(['--help']);
    expect(res.stderr).not.toContain('EPIPE');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
  });

  it('runs --local into a closed pipe stops quietly', async () => {
    const stateDir = tempDir();
    mkdirSync(path.join(stateDir, 'db'), { recursive: true });
    const res = await runWithClosedPipes(['runs', '--local', '--json', '--state-dir', stateDir]);
    expect(res.stderr).not.toMatch(/EPIPE|at .*\(/);
    expect(res.code).toBe(0);
  });
});
