/**
 * A burst of pushes through `tfstep local serve`: twenty successive commits pushed at once, each
 * delivered twice, in a random order. Whatever order they arrive in, every push is recorded, no
 * run is superseded by an older push, nothing is left running, and the newest commit ends applied.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { localServe, type LocalServer } from '../../lib/local/ui/serve';
import { seededRandom } from '../../bench/random';
import { commit, makeInfraRepo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, devConfigFor } from './helpers';

jest.setTimeout(300_000);

const SECRET = 'local-webhook-secret-for-tests';
const PUSHES = 20;


interface RunRow {
  readonly execution: string;
  readonly status: string;
  readonly commit: string;
  readonly carriedBy?: string;
}

function pushBody(before: string, after: string, n: number): string {
  return JSON.stringify({
    ref: 'refs/heads/main',
    before,
    after,
    created: false,
    deleted: false,
    forced: false,
    commits: [{ id: after, message: `replicas ${n}`, added: [], modified: ['dev-a/us-east-1/app/main.tf'], removed: [] }],
    head_commit: { id: after, message: `replicas ${n}`, added: [], modified: ['dev-a/us-east-1/app/main.tf'], removed: [] },
    pusher: { name: 'pat' },
    repository: { full_name: 'acme/live', clone_url: 'https://github.com/acme/live.git', ssh_url: 'git@github.com:acme/live.git' },
  });
}

describe('a burst of pushes through tfstep local serve', () => {
  let server: LocalServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('records every push and applies the newest commit, whatever order the webhooks arrive in', async () => {
    // GIVEN a repository and twenty successive commits, each changing one dev module
    const repo = makeInfraRepo();
    const state = await stateDirWithBundle();
    server = await localServe({
      configFile: devConfigFor(repo),
      port: 0,
      stateDir: state,
      env: { ...runnerEnv(toolPathWithoutTerraform(), path.join(tempDir('log'), 'double.log')), TFSTEP_WEBHOOK_SECRET: SECRET },
      out: new PassThrough(),
      waitMs: 50,
    });
    let before = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const deliveries: { body: string; id: string }[] = [];
    const commits: string[] = [];
    for (let n = 1; n <= PUSHES; n++) {
      const after = commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app', `replicas ${n}`) }, `replicas ${n}`);
      const body = pushBody(before, after, n);
      // Each push is delivered twice (a redelivery keeps its delivery id).
      deliveries.push({ body, id: `delivery-${n}` }, { body, id: `delivery-${n}` });
      commits.push(after);
      before = after;
    }
    const rand = seededRandom(20);
    for (let i = deliveries.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [deliveries[i], deliveries[j]] = [deliveries[j]!, deliveries[i]!];
    }

    // WHEN all forty deliveries are sent at once
    const url = server.url;
    const answers = await Promise.all(
      deliveries.map(({ body, id }) =>
        fetch(`${url}/webhook`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'push',
            'x-github-delivery': id,
            'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
          },
          body,
        }).then((r) => r.status),
      ),
    );
    expect(answers.every((s) => s >= 200 && s < 300)).toBe(true);

    // THEN every push is recorded as exactly one run, and every run ends
    const listRuns = async () => ((await (await fetch(`${url}/runs?limit=200`)).json()) as { runs: RunRow[] }).runs;
    const ended = (r: RunRow) => !['RUNNING', 'WAITING', 'QUEUED'].includes(r.status);
    let runs = await listRuns();
    for (const deadline = Date.now() + 240_000; !(runs.length >= PUSHES && runs.every(ended)); runs = await listRuns()) {
      if (Date.now() > deadline) throw new Error(`the runs did not all end: ${JSON.stringify(runs)}`);
      await new Promise((r) => setTimeout(r, 500));
    }
    await Promise.allSettled(server.runs);
    runs = await listRuns();
    expect(new Set(runs.map((r) => r.commit))).toEqual(new Set(commits));
    expect(runs).toHaveLength(PUSHES);

    // AND the newest commit's run applied it, and no run was superseded by an older push
    const newest = runs.find((r) => r.commit === commits[PUSHES - 1])!;
    expect(newest.status).toBe('SUCCEEDED');
    const indexOf = (execution: string | undefined) => commits.indexOf(runs.find((r) => r.execution === execution)?.commit ?? '');
    for (const r of runs) {
      expect(['SUCCEEDED', 'SUPERSEDED']).toContain(r.status);
      if (r.status === 'SUPERSEDED' && r.carriedBy) expect(indexOf(r.carriedBy)).toBeGreaterThan(commits.indexOf(r.commit));
    }
  });
});
