/**
 * The dashboard over a local state directory, for the local commands that serve it beside their
 * work: `tfstep local serve` (at `/`) and `tfstep local demo` (`npm start`). It opens the same
 * backend as `tfstep ui --local`; in the process that runs the pipeline that shares its run table.
 */
import { mkdirSync } from 'node:fs';
import { hintOptions, openBackend } from '../operator/backend';
import { createDashboard, serveDashboard, sourceFromBackend, type DashboardServer } from './server';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** How often the local dashboard reads the run table while a page is open. */
export const LOCAL_POLL_MS = 1000;

async function localSource(stateDir: string, configFile: string | undefined) {
  mkdirSync(stateDir, { recursive: true });
  const opts = { local: true, stateDir, config: configFile };
  const backend = await openBackend(opts);
  return { backend, source: sourceFromBackend(backend, `local state ${stateDir}`, hintOptions(opts)) };
}

/** The dashboard's handler for a server that has other routes too. */
export async function localDashboardPages(where: { stateDir: string; configFile?: string }): Promise<{ handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>; close(): Promise<void> }> {
  const { backend, source } = await localSource(where.stateDir, where.configFile);
  const dashboard = createDashboard(source, { pollMs: LOCAL_POLL_MS });
  return {
    handle: (req, res) => dashboard.handle(req, res),
    close: async () => {
      dashboard.close();
      await backend.close();
    },
  };
}

/**
 * Serves the dashboard on 127.0.0.1 at `port`, or at any free port when that one is taken.
 */
export async function serveLocalDashboard(where: { stateDir: string; configFile?: string; port: number }): Promise<DashboardServer> {
  const { backend, source } = await localSource(where.stateDir, where.configFile);
  let server: DashboardServer;
  try {
    server = await serveDashboard(source, { port: where.port, pollMs: LOCAL_POLL_MS }).catch((err: unknown) => {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || where.port === 0) throw err;
      return serveDashboard(source, { port: 0, pollMs: LOCAL_POLL_MS });
    });
  } catch (err) {
    await backend.close();
    throw err;
  }
  return {
    ...server,
    close: async () => {
      await server.close();
      await backend.close();
    },
  };
}
