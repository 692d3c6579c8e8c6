import type { Command } from 'commander';
import { Option } from 'commander';
import { serveDashboard, sourceFromBackend } from '../../dashboard/server';
import { hintOptions, openBackend } from '../../operator/backend';
import { BadOptionError } from '../../operator/errors';
import { stateDirOf, type CommonOptions } from '../../operator/context';
import { addCommonOptions } from '../options';
import { Output } from '../output';

interface UiOptions extends CommonOptions {
  readonly port: string;
  readonly pollMs?: number;
}

/** The default port of `tfstep ui`. */
export const UI_PORT = 8790;

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new BadOptionError('--port', value, 'a number from 0 to 65535 (0: any free port)');
  return n;
}

/** `tfstep ui`: the read-only run dashboard on 127.0.0.1, over the same backend as the other commands. */
export function register(program: Command): void {
  const cmd = program
    .command('ui')
    .description('serve a read-only dashboard of runs, accounts and the fleet on 127.0.0.1, updated live')
    .option('--port <n>', 'the port on 127.0.0.1 (0: any free port)', String(UI_PORT))
    .addOption(new Option('--poll-ms <ms>', 'milliseconds between reads of the backend while a page is open (default: 1000 local, 5000 AWS)').argParser((v) => Number(v)));
  addCommonOptions(cmd, { local: true });
  cmd.addHelpText(
    'after',
    '\nIt reads with your own AWS credentials (or, with --local, the state directory) exactly what tfstep runs,\nshow, fleet and logs read, and listens on 127.0.0.1 only. Stop it with Ctrl-C.\n\nExit codes: 0 stopped, 2 bad input (options, config, no credentials, port in use).',
  );
  cmd.action(async (opts: UiOptions) => {
    const out = new Output();
    const port = parsePort(opts.port);
    const pollMs = opts.pollMs ?? (opts.local ? 1000 : 5000);
    if (!Number.isFinite(pollMs) || pollMs < 100) throw new BadOptionError('--poll-ms', String(opts.pollMs), 'milliseconds, at least 100');
    const backend = await openBackend(opts);
    const label = backend.mode === 'local' ? `local state ${stateDirOf(opts)}` : `AWS ${opts.region ?? backend.config?.central.region ?? ''}${opts.profile ? ` (profile ${opts.profile})` : ''}`;
    let server;
    try {
      server = await serveDashboard(sourceFromBackend(backend, label, hintOptions(opts)), { port, pollMs });
    } catch (err) {
      await backend.close();
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new BadOptionError('--port', String(port), 'a free port: this one is in use (--port 0 picks any free port)');
      throw err;
    }
    out.line(`tfstep ui: ${server.url}/  (${label}; read-only, 127.0.0.1 only; Ctrl-C stops it)`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    await server.close();
    await backend.close();
    process.exitCode = 0;
  });
}
