import { main } from '../../lib/cli/main';

/** What one in-process CLI invocation printed and returned. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tfstep <args>` in this process through main(), capturing stdout and stderr. */
export async function runCli(args: readonly string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err.push(String(chunk));
    return true;
  });
  const consoleError = jest.spyOn(console, 'error').mockImplementation((...parts: unknown[]) => {
    err.push(`${parts.map(String).join(' ')}\n`);
  });
  process.exitCode = undefined;
  try {
    const code = await main(['node', 'tfstep', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.exitCode = undefined;
    stdout.mockRestore();
    stderr.mockRestore();
    consoleError.mockRestore();
  }
}
