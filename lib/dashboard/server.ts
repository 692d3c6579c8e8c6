/**
 * The dashboard's HTTP side: read-only pages and their live feeds, over a {@link DashboardSource}
 * (the operator backend of `tfstep ui`, or the run table `tfstep local serve` already holds).
 * `tfstep ui` listens on 127.0.0.1 only; every request must name a loopback host, so a web page
 * elsewhere cannot reach it through a DNS name that points at 127.0.0.1 (DNS rebinding).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { FleetOutput } from '../operator/fleet';
import type { Backend } from '../operator/backend';
import type { LogReader } from '../operator/logs';
import type { RunDetail, RunSummary } from '../operator/views';
import { ExecutionNotFoundError } from '../operator/errors';
import { LiveFeeds } from './live';
import {
  DASHBOARD_HEADERS,
  findAccount,
  fleetLive,
  renderAccountPanel,
  renderFleetPage,
  renderProblemPage,
  renderRunPage,
  renderRunsPage,
  runLive,
  runsLive,
  type LogTail,
} from './render';

/** What the dashboard reads: the same calls `tfstep runs`, `show`, `fleet` and `logs` make. */
export interface DashboardSource {
  /** Where the data comes from, shown in the page header (`AWS us-east-1`, `local state .tfstep`). */
  readonly label: string;
  /** Stage names in deploy order (the fleet page's order). */
  readonly stageOrder: readonly string[];
  listRuns(limit: number): Promise<RunSummary[]>;
  showRun(execution: string): Promise<RunDetail>;
  fleet(): Promise<FleetOutput>;
  logTail(execution: string, account: string): Promise<LogTail>;
}

/** How many runs the runs page lists. */
export const RUNS_LISTED = 50;
/** How many lines of each runner task the account panel shows. */
export const LOG_TAIL_LINES = 40;
/** How long the account panel waits for the log before showing it without. */
const LOG_TAIL_TIMEOUT_MS = 8000;

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

/** The last `lines` lines of each task's log, read through `reader` as `tfstep logs` reads them. */
export async function readLogTail(reader: LogReader, execution: string, account: string, lines = LOG_TAIL_LINES, timeoutMs = LOG_TAIL_TIMEOUT_MS): Promise<LogTail> {
  const sections: { title: string; lines: string[] }[] = [];
  const notes: string[] = [];
  const current = () => sections.at(-1) ?? (sections.push({ title: account, lines: [] }), sections.at(-1)!);
  const reading = reader.run(
    { execution, account, follow: false },
    {
      header: (title) => void sections.push({ title, lines: [] }),
      line: (text) => {
        const s = current();
        s.lines.push(text.replace(ANSI, ''));
        if (s.lines.length > lines) s.lines.shift();
      },
      note: (text) => void notes.push(text),
    },
  );
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
  try {
    const outcome = await Promise.race([reading.then(() => 'read' as const), late]);
    if (outcome === 'late') notes.push(`the log was not read within ${timeoutMs / 1000} s; read it with tfstep logs ${execution} --account ${account}`);
  } catch (err) {
    notes.push(`the log could not be read: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  reading.catch(() => undefined);
  return { sections: sections.map((s) => ({ title: s.title, lines: [...s.lines] })), notes };
}

/** A {@link DashboardSource} over an operator backend (AWS or a local state directory). */
export function sourceFromBackend(backend: Backend, label: string, cliOptions = ''): DashboardSource {
  return {
    label,
    stageOrder: backend.config?.stageOrder ?? [],
    listRuns: (limit) => backend.runs.listRuns({ limit }),
    showRun: (execution) => backend.runs.showRun(execution),
    fleet: () => backend.fleet(),
    logTail: async (execution, account) => ({
      ...(await readLogTail(backend.logReader(), execution, account)),
      command: `tfstep logs ${execution} --account ${account}${backend.mode === 'local' ? ' --local' : ''}${cliOptions}`,
    }),
  };
}

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** Milliseconds between reads of the backend while a page is open. */
  readonly pollMs: number;
}

/** The dashboard's request handler and what to close when it stops. */
export interface Dashboard {
  /** Answers a dashboard request; false when the path is not one of the dashboard's. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /** Ends the live streams. */
  close(): void;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** Whether the request names a loopback host (not a DNS name that happens to point at one). */
export function loopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!;
  return LOOPBACK.has(name.toLowerCase());
}

function send(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, DASHBOARD_HEADERS);
  res.end(html);
}

const SEGMENT = /^[^/]{1,256}$/;

function decode(segment: string): string | undefined {
  try {
    const v = decodeURIComponent(segment);
    return SEGMENT.test(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** The dashboard: `/` runs, `/run/<execution>`, `/run/<execution>/account/<account>`, `/fleet`, each with `/events`. */
export function createDashboard(source: DashboardSource, opts: DashboardOptions): Dashboard {
  const feeds = new LiveFeeds({ pollMs: opts.pollMs });
  // A run read moments ago serves the account panel too: a 10,000-account run is read once per poll.
  const recent = new Map<string, { at: number; run: Promise<RunDetail> }>();
  const readRun = (execution: string): Promise<RunDetail> => {
    const hit = recent.get(execution);
    if (hit && Date.now() - hit.at < opts.pollMs) return hit.run;
    const run = source.showRun(execution);
    recent.set(execution, { at: Date.now(), run });
    run.catch(() => recent.delete(execution));
    for (const [k, v] of recent) if (Date.now() - v.at > opts.pollMs * 4) recent.delete(k);
    return run;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const parts = url.pathname.split('/').filter(Boolean);
    const isPage = parts.length === 0 || parts[0] === 'events' || parts[0] === 'run' || parts[0] === 'fleet';
    if (!isPage) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...DASHBOARD_HEADERS, allow: 'GET, HEAD' });
      res.end(renderProblemPage('Read only', 'the dashboard only reads; it changes nothing', source.label));
      return true;
    }
    if (!loopbackHost(req.headers.host)) {
      send(res, 421, renderProblemPage('Wrong host', 'the dashboard answers on 127.0.0.1 or localhost only', source.label));
      return true;
    }
    try {
      await route(parts, url, req, res);
    } catch (err) {
      if (res.headersSent) {
        res.end();
        return true;
      }
      if (err instanceof ExecutionNotFoundError) send(res, 404, renderProblemPage('No such run', err.message, source.label));
      else send(res, 502, renderProblemPage('Could not read the backend', (err as Error).message, source.label));
    }
    return true;
  };

  const route = async (parts: string[], url: URL, req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const [first, execSeg, third, accountSeg, fifth] = parts;
    if (parts.length === 0) return send(res, 200, renderRunsPage(await source.listRuns(RUNS_LISTED), source.label));
    if (first === 'events' && parts.length === 1) return feeds.subscribe('runs', async () => runsLive(await source.listRuns(RUNS_LISTED)), req, res);
    if (first === 'fleet' && parts.length === 1) {
      const fleet = await source.fleet().catch((err: unknown) => ({ error: (err as Error).message }));
      return send(res, 200, renderFleetPage(fleet, source.stageOrder, source.label));
    }
    if (first === 'fleet' && execSeg === 'events' && parts.length === 2) return feeds.subscribe('fleet', async () => fleetLive(await source.fleet(), source.stageOrder), req, res);
    const execution = execSeg ? decode(execSeg) : undefined;
    if (first === 'run' && execution) {
      const filter = { q: url.searchParams.get('q') ?? undefined, tone: url.searchParams.get('tone') ?? undefined };
      if (parts.length === 2) return send(res, 200, renderRunPage(await readRun(execution), { source: source.label, filter }));
      if (third === 'events' && parts.length === 3) return feeds.subscribe(`run/${execution}`, async () => runLive(await readRun(execution)), req, res);
      const account = accountSeg ? decode(accountSeg) : undefined;
      if (third === 'account' && account && fifth === undefined) {
        const run = await readRun(execution);
        const found = findAccount(run, account);
        if (!found) return send(res, 404, renderProblemPage('No such account', `run ${execution} has no account ${account}`, source.label));
        const logTail = await source.logTail(run.execution, account);
        if (url.searchParams.get('fragment') === '1') return send(res, 200, renderAccountPanel(run, found.view, found.stage, logTail));
        return send(res, 200, renderRunPage(run, { source: source.label, filter, account: { ...found, logTail } }));
      }
    }
    send(res, 404, renderProblemPage('Not found', `nothing at ${url.pathname}; the dashboard serves /, /run/<execution>, /run/<execution>/account/<account> and /fleet`, source.label));
  };

  return { handle, close: () => feeds.close() };
}

/** A running `tfstep ui`. */
export interface DashboardServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serves the dashboard on 127.0.0.1 (port 0: any free port). */
export async function serveDashboard(source: DashboardSource, opts: DashboardOptions & { readonly port: number }): Promise<DashboardServer> {
  const dashboard = createDashboard(source, opts);
  const server = createServer((req, res) => {
    dashboard
      .handle(req, res)
      .then((handled) => {
        if (!handled) send(res, 404, renderProblemPage('Not found', 'the dashboard serves /, /run/<execution> and /fleet', source.label));
      })
      .catch(() => {
        if (!res.headersSent) send(res, 500, renderProblemPage('Internal error', 'the page could not be made', source.label));
        else res.end();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : opts.port}`;
  return {
    url,
    server,
    close: async () => {
      dashboard.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
