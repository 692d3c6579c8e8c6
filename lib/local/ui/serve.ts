/**
 * `tfstep local serve`: the webhook, the approval pages and the runs on 127.0.0.1, backed by
 * the same cores as the deployed functions. A received push is normalised by the webhook core,
 * "published" in-process, and starts a local execution against a local mirror of the
 * repository (fetched from its clone URL, which may be a local path).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import * as path from 'node:path';
import { localFleetFile } from '../../fleet/fleet-file';
import { MAX_FORM_BYTES, handleApprovalHttp } from '../../approval/http';
import { SECURITY_HEADERS, renderMessagePage } from '../../approval/page';
import { readBody } from '../../approval/server';
import { StaticKeyProvider } from '../../approval/signing';
import { ApprovalStore } from '../../approval/store';
import { TaskGoneError } from '../../approval/errors';
import type { TaskTokenSender } from '../../approval/types';
import type { ApprovalOutput } from '../../statemachine/contracts';
import { loadConfig } from '../../config/loader';
import type { Config, RepositoryConfig } from '../../config/schema';
import { gitOperand } from '../../domain/git-args';
import { stateMachineArn } from '../../domain/names';
import type { PushEvent } from '../../domain/push-event';
import { requireEnv } from '../../env';
import { executionArnOf } from '../../notify/links';
import { pushSequence } from '../../planning/targets';
import { RunStore } from '../../store/run-store';
import { handleWebhook } from '../../webhook/handler';
import { DynamoDeliveryStore } from '../../webhook/deliveries';
import { MemoryPublisher } from '../../webhook/publisher';
import { pullRequestKey, type PullRequestEvent } from '../../domain/pull-request-event';
import { LocalPullRequestRuns } from './pull-requests';
import { githubTeamCheck, type TeamCheck } from '../../pull-requests/authors';
import { githubApiBase } from '../../planning/repo-reader';
import { LOCAL_GIT_CREDENTIALS_ENV, loadLocalGitCredentials } from '../engine/git-credentials';
import { StaticSecretProvider } from '../../webhook/secrets';
import type { Logger } from '../../webhook/types';
import { gitOrThrow } from '../engine/git';
import { pipelineInput } from '../engine/push';
import { nextLines, summaryLines, testDoubleNotice } from './run';
import { LocalPipeline, newExecutionName, reapAbandoned, signingKey, type LocalRunResult } from '../engine/session';
import { DEFAULT_STATE_DIR, openLocalStore } from '../engine/store';

/** The environment variable holding the webhook secret of the local server. */
export const LOCAL_WEBHOOK_SECRET_ENV = 'TFSTEP_WEBHOOK_SECRET';

/** Options of {@link localServe}. */
export interface LocalServeOptions {
  configFile: string;
  /** 0 picks a free port. */
  port: number;
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Where progress lines go. @default process.stdout */
  out?: NodeJS.WritableStream;
  /** Wait states' local pause in ms. */
  waitMs?: number;
  /**
   * Pages served besides the webhook, the approvals and `GET /runs` (the dashboard, at `/`),
   * made once the state directory is open.
   */
  pages?: (where: { stateDir: string; configFile: string }) => Promise<LocalPages>;
}

/** Extra pages of the local server: `handle` answers a request of theirs, or returns false. */
export interface LocalPages {
  handle(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  close(): Promise<void>;
}

/** A running local server. */
export interface LocalServer {
  url: string;
  server: Server;
  /** Results of the executions started so far, in start order. */
  runs: Promise<LocalRunResult>[];
  /** Pull request plans and the check runs they would have posted. */
  pullRequests: LocalPullRequestRuns;
  close(): Promise<void>;
}

const MAX_BODY = 1024 * 1024;

function json(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extraHeaders });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

/**
 * Answers before the request body was read to its end: the rest of it is still on the wire, so
 * the connection cannot carry another request and is closed once the answer is sent.
 */
const CLOSE = { connection: 'close' } as const;

function lineLogger(out: NodeJS.WritableStream): Logger {
  const write = (level: string) => (message: string, fields?: Readonly<Record<string, unknown>>) => {
    out.write(`[${level}] ${message}${fields && Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : ''}\n`);
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}

/**
 * Keeps a bare mirror of a repository under the state directory, fetched from the first of the
 * config's clone URLs that answers: the planner reads it and the runner clones it. The push's
 * own clone URLs are never used: a signed payload must not choose where the code comes from,
 * nor pass options to git.
 */
async function refreshMirror(stateDir: string, repo: RepositoryConfig): Promise<string> {
  const dir = path.join(stateDir, 'repos', `${repo.fullName.replace(/[^A-Za-z0-9._-]/g, '__')}.git`);
  const errors: string[] = [];
  for (const url of repo.cloneUrls) {
    try {
      gitOperand('clone URL', url);
      if (!existsSync(dir)) {
        mkdirSync(path.dirname(dir), { recursive: true });
        await gitOrThrow(path.dirname(dir), ['clone', '--quiet', '--bare', '--end-of-options', url, dir]);
      } else {
        await gitOrThrow(dir, ['fetch', '--quiet', '--prune', '--end-of-options', url, '+refs/heads/*:refs/heads/*']);
      }
      return dir;
    } catch (e) {
      errors.push((e as Error).message);
    }
  }
  throw new Error(
    `cannot fetch ${repo.fullName} from any clone URL of the config (${repo.cloneUrls.join(', ')}): ${errors.join('; ')}. ` +
      'The clone URLs must be fetchable from the machine running `tfstep local serve`; fix them, then push again',
  );
}

/** Runs `task` after every task queued before it under the same key, one at a time. */
function serialiser(): <T>(key: string, task: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(key: string, task: () => Promise<T>): Promise<T> => {
    const next = (tails.get(key) ?? Promise.resolve()).then(task, task);
    const tail = next.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return next;
  };
}

/**
 * Records a push that could not start as a FAILED run with the reason, so that `GET /runs` and
 * `tfstep runs --local` show it instead of a line in the server log only.
 */
async function recordUnstartedPush(runStore: RunStore, config: Config, push: PushEvent, reason: string): Promise<string> {
  const execution = newExecutionName(push.after);
  const now = new Date().toISOString();
  await runStore.createRun({
    execution,
    executionId: executionArnOf(stateMachineArn('aws', config.central.region, config.central.account), execution),
    repository: push.repository.fullName,
    branch: push.branch,
    commit: push.after,
    sequence: pushSequence(push),
    status: 'FAILED',
    pusher: push.pusher,
    receivedAt: push.receivedAt,
    startedAt: now,
    finishedAt: now,
    reason,
    input: JSON.stringify(pipelineInput(push)),
  });
  return execution;
}

/**
 * Team entries of `pullRequests.authors` are asked of GitHub with the local mode's git
 * credentials (`TFSTEP_GIT_CREDENTIALS` or `TFSTEP_GIT_CREDENTIALS_FILE`, the stand-in for the
 * central `git.centralSecret`), read for each event that needs them. Without them team entries
 * match nobody, and the refusal names the variables.
 */
function localTeamCheck(config: Config, env: NodeJS.ProcessEnv, stateDir: string, pr: PullRequestEvent): TeamCheck {
  const repo = config.repositories.find((r) => r.fullName.toLowerCase() === pr.repository.fullName.toLowerCase());
  return githubTeamCheck({
    credential: loadLocalGitCredentials(env, stateDir)?.credential,
    credentialName: `${LOCAL_GIT_CREDENTIALS_ENV.value} or ${LOCAL_GIT_CREDENTIALS_ENV.file}`,
    repository: pr.repository.fullName,
    apiBaseUrl: githubApiBase(repo?.cloneUrls ?? pr.repository.cloneUrls),
  });
}

/** Starts the server; resolves once it listens. */
export async function localServe(opts: LocalServeOptions): Promise<LocalServer> {
  const env = opts.env ?? process.env;
  const out = opts.out ?? process.stdout;
  const config = loadConfig(opts.configFile);
  const secret = requireEnv(LOCAL_WEBHOOK_SECRET_ENV, env);
  const stateDir = path.resolve(opts.stateDir ?? DEFAULT_STATE_DIR);
  const store = await openLocalStore(stateDir);
  const logger = lineLogger(out);
  const pipelines = new Map<string, Promise<LocalPipeline>>();
  const runs: Promise<LocalRunResult>[] = [];
  const runStore = new RunStore(store.docClient, store.tableName);
  // A server restarted after a crash recognises the runs its predecessor left behind at once.
  const reaped = await reapAbandoned(stateDir, runStore);
  for (const name of reaped.runs) out.write(`run ${name} was left running by a tfstep process that is gone: recorded ABORTED, its branch released\n`);
  if (reaped.runners.length > 0) out.write(`stopped ${reaped.runners.length} runner(s) left behind by that process\n`);
  let baseUrl = 'http://127.0.0.1';

  const notice = testDoubleNotice(config, env);
  if (notice) out.write(`${notice}\n`);

  const pipelineFor = (repo: RepositoryConfig, mirror: string): Promise<LocalPipeline> => {
    let p = pipelines.get(repo.fullName);
    if (!p) {
      p = LocalPipeline.create({
        config,
        stateDir,
        repoDir: mirror,
        store,
        env,
        waitMs: opts.waitMs,
        approvalBaseUrl: baseUrl,
        fleetFile: localFleetFile(opts.configFile, config),
        onNotice: (n) => out.write(`approval needed: ${n.subject}\n  ${n.approver}: ${n.text.split('\n').find((l) => l.startsWith('http')) ?? ''}\n`),
      });
      pipelines.set(repo.fullName, p);
    }
    return p;
  };

  const serialised = serialiser();
  const startRun = async (received: PushEvent) => {
    const repo = config.repositories.find((r) => r.fullName.toLowerCase() === received.repository.fullName.toLowerCase());
    if (!repo) return;
    // The code comes from the config's clone URLs only, whatever the payload names.
    const push: PushEvent = { ...received, repository: { ...received.repository, cloneUrls: [...repo.cloneUrls] } };
    // One git process per mirror at a time: a concurrent clone and fetch into one directory fail.
    let mirror: string;
    try {
      mirror = await serialised(repo.fullName, () => refreshMirror(stateDir, repo));
    } catch (e) {
      const reason = (e as Error).message;
      const execution = await recordUnstartedPush(runStore, config, push, reason);
      out.write(`FAILED ${execution} for ${push.repository.fullName} ${push.branch} ${push.after.slice(0, 7)}: ${reason}\n`);
      return;
    }
    const pipeline = await pipelineFor(repo, mirror);
    const run = pipeline.start(pipelineInput(push));
    out.write(`started ${run.executionName} for ${push.repository.fullName} ${push.branch} ${push.after.slice(0, 7)}\n`);
    const done = run.done.then((result) => {
      out.write(`${[...summaryLines(result), ...nextLines(result, ` --state-dir ${stateDir}`)].join('\n')}\n`);
      return result;
    });
    runs.push(done);
  };

  const pullRequests = new LocalPullRequestRuns({ config, stateDir, out, baseUrl: () => baseUrl, teams: (pr) => localTeamCheck(config, env, stateDir, pr) });
  const startPullRequest = async (pr: PullRequestEvent) => {
    const repo = config.repositories.find((r) => r.fullName.toLowerCase() === pr.repository.fullName.toLowerCase());
    if (!repo) return;
    // The same mirror as pushes: the pull request's branch is fetched with every other branch.
    const mirror = await serialised(repo.fullName, () => refreshMirror(stateDir, repo));
    await pullRequests.handle({ ...pr, repository: { ...pr.repository, cloneUrls: [...repo.cloneUrls] } }, await pipelineFor(repo, mirror));
  };
  // Pull request events of one pull request are handled in arrival order, so a newer push always cancels the older run.
  const prSerial = serialiser();
  const publisher = new MemoryPublisher(
    async (push) => {
      // The webhook answers once the event is "on the bus"; the run goes on in the background.
      startRun(push).catch((e: unknown) => logger.error('could not start the local execution', { error: (e as Error).message }));
      await Promise.resolve();
    },
    async (pr) => {
      prSerial(pullRequestKey(pr), () => startPullRequest(pr)).catch((e: unknown) => logger.error('could not start the pull request plans', { error: (e as Error).message }));
      await Promise.resolve();
    },
  );
  const webhookDeps = {
    config,
    secrets: new StaticSecretProvider(secret),
    publisher,
    deliveries: new DynamoDeliveryStore(store.docClient, store.tableName),
    clock: { now: () => new Date() },
    logger,
  };
  // Decisions on the pages settle the token of whichever local pipeline waits on it.
  const tasks: TaskTokenSender = {
    sendSuccess: async (token: string, output: ApprovalOutput) => {
      for (const p of pipelines.values()) {
        const pipeline = await p;
        if (pipeline.tokens.isWaiting(token)) return pipeline.tokens.sendSuccess(token, output);
      }
      throw new TaskGoneError('the approval step no longer waits for this decision; nothing was applied');
    },
    sendFailure: async (token: string, error: string, cause: string) => {
      for (const p of pipelines.values()) {
        const pipeline = await p;
        if (pipeline.tokens.isWaiting(token)) return pipeline.tokens.sendFailure(token, error, cause);
      }
      throw new TaskGoneError('the approval step no longer waits for this decision; nothing was applied');
    },
  };
  const pages = opts.pages ? await opts.pages({ stateDir, configFile: opts.configFile }) : undefined;
  const keys = new StaticKeyProvider(signingKey(stateDir));
  const approvalStore = new ApprovalStore(store.docClient, store.tableName);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const headers: Record<string, string | undefined> = {};
    for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const handle = async () => {
      if (url.pathname === '/webhook') {
        const body = await readBody(req, MAX_BODY + 1);
        if (body === undefined) return json(res, 413, { reason: `the body is larger than ${MAX_BODY} bytes` }, CLOSE);
        const answer = await handleWebhook({ method: req.method ?? 'GET', headers, body }, webhookDeps);
        res.writeHead(answer.statusCode, answer.headers);
        res.end(answer.body);
        return;
      }
      if (url.pathname === '/approvals' || url.pathname.startsWith('/approvals/')) {
        const body = await readBody(req, MAX_FORM_BYTES + 1);
        if (body === undefined) {
          res.writeHead(413, { ...SECURITY_HEADERS, ...CLOSE });
          res.end(renderMessagePage('Too large', `the form is larger than ${MAX_FORM_BYTES} bytes`));
          return;
        }
        const query: Record<string, string> = {};
        for (const [k, v] of url.searchParams) if (!(k in query)) query[k] = v;
        const answer = await handleApprovalHttp(
          { method: req.method ?? 'GET', path: url.pathname, query, headers, body, isBase64Encoded: false },
          { store: approvalStore, tasks, keys, baseUrl, logger },
        );
        res.writeHead(answer.statusCode, answer.headers);
        res.end(answer.body);
        return;
      }
      if (pages && (await pages.handle(req, res))) return;
      if (req.method !== 'GET') return json(res, 405, { reason: 'only GET is served here' });
      if (url.pathname === '/runs' || url.pathname === '/runs/') {
        const limit = Number(url.searchParams.get('limit') ?? '50');
        return json(res, 200, { runs: await runStore.listRuns({ limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1000) : 50 }), pullRequests: pullRequests.list() });
      }
      const m = /^\/runs\/([A-Za-z0-9_-]{1,80})\/?$/.exec(url.pathname);
      if (m) {
        const pr = pullRequests.get(m[1]!);
        if (pr) return json(res, 200, pr);
        const detail = await runStore.getRun(m[1]!);
        return detail ? json(res, 200, detail) : json(res, 404, { reason: `no run named ${m[1]}` });
      }
      return json(res, 404, { reason: `not found; served: POST /webhook, /approvals/..., GET /runs, GET /runs/<execution>${pages ? ', the dashboard at /' : ''}` });
    };
    handle().catch((e: unknown) => {
      logger.error('request failed', { path: url.pathname, error: (e as Error).message });
      if (!res.headersSent) json(res, 500, { reason: 'internal error' });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  baseUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : opts.port}`;
  out.write(`tfstep local serve on ${baseUrl}: POST /webhook, /approvals/..., GET /runs${pages ? `, the dashboard at ${baseUrl}/` : ''} (state ${stateDir})\n`);

  return {
    url: baseUrl,
    server,
    runs,
    pullRequests,
    close: async () => {
      for (const p of pipelines.values()) (await p).stopAll();
      await Promise.allSettled([...runs, ...pullRequests.done]);
      await pages?.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await store.close();
    },
  };
}

/** Keeps the server up until SIGINT or SIGTERM (the CLI's `local serve`). */
export async function serveUntilStopped(server: LocalServer): Promise<void> {
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
}
