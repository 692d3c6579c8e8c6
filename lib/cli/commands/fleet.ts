import type { Command } from 'commander';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import type { FleetOutput } from '../../operator/fleet';
import { addCommonOptions } from '../options';
import { Output, shortSha } from '../output';

interface FleetOptions extends CommonOptions {
  readonly json?: boolean;
}

interface RefreshOptions extends CommonOptions {
  readonly json?: boolean;
  readonly fleetFile?: string;
}

/** Prints `tfstep fleet` output: one line per account, its modules' last applied commits below it. */
export function printFleet(out: Output, result: FleetOutput): void {
  if (result.accounts.length === 0) {
    out.note('no accounts: the config lists none and the fleet registry is empty (tfstep fleet refresh)');
    return;
  }
  out.table(
    ['ACCOUNT', 'ID', 'STAGE', 'WAVE', 'SOURCE', 'STATUS', 'LAST APPLIED'],
    result.accounts.map((a) => [
      a.name,
      a.id,
      a.previousStage ? `${a.stage} (was ${a.previousStage})` : a.stage,
      a.wave ?? '-',
      a.source === 'explicit' ? 'explicit' : `${a.source} ${a.matched}`,
      a.status,
      a.applied.length === 0 ? '-' : a.applied.map((m) => `${m.module}@${shortSha(m.commit)}`).join(', '),
    ]),
  );
  if (result.lastRefresh) {
    const r = result.lastRefresh;
    out.note(`fleet refreshed ${r.refreshedAt} from ${r.from}: ${r.active} active, ${r.added} added, ${r.moved} moved, ${r.left} left`);
  }
}

/** `tfstep fleet` and `tfstep fleet refresh`. */
export function register(program: Command): void {
  const cmd = program
    .command('fleet')
    .description('list the accounts runs deploy: stage, wave, source (explicit, OU or tag) and the last applied commit of each module')
    .option('--json', 'print stable JSON ({ accounts: [...], lastRefresh }) instead of a table');
  addCommonOptions(cmd, { local: true });
  cmd.addHelpText('after', '\nExit codes: 0 listed, 2 bad input (options, config, no credentials).');
  cmd.action(async (opts: FleetOptions) => {
    const out = new Output();
    const backend = await openBackend(opts);
    try {
      const result = await backend.fleet();
      if (opts.json) out.json(result);
      else printFleet(out, result);
      process.exitCode = 0;
    } finally {
      await backend.close();
    }
  });

  const refresh = cmd
    .command('refresh')
    .description('read AWS Organizations (or, with --local, the fleet file) into the fleet registry now, instead of at the next scheduled refresh')
    .option('--fleet-file <file>', "with --local: the fleet file standing in for Organizations (default: the config's fleet.file)")
    .option('--json', 'print the refresh summary as JSON');
  addCommonOptions(refresh, { local: true });
  refresh.addHelpText('after', '\nExit codes: 0 refreshed, 2 bad input (options, config, a fleet file or OU that does not fit), other non-zero when Organizations could not be read.');
  refresh.action(async () => {
    // The parent command takes the shared options too: read both.
    const opts = refresh.optsWithGlobals<RefreshOptions>();
    const out = new Output();
    const backend = await openBackend(opts);
    try {
      const r = await backend.refreshFleet({ fleetFile: opts.fleetFile });
      if (opts.json) out.json(r);
      else out.line(`fleet refreshed from ${r.from}: ${r.active} active, ${r.added} added, ${r.moved} moved, ${r.left} left`);
      process.exitCode = 0;
    } finally {
      await backend.close();
    }
  });
}
