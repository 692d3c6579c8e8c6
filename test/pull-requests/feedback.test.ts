/**
 * Pull request feedback against real HTTP servers on loopback that answer as GitHub's check runs
 * and commit statuses API and GitLab's notes API do (the hosts themselves cannot be reached from
 * the tests). The servers record every request, so the tests check what was sent.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PullRequestEvent } from '../../lib/domain/pull-request-event';
import { renderPullRequestSummary } from '../../lib/domain/pull-request-summary';
import { GitHubCheckRunClient, GitLabNoteClient, NOTE_MARKER, PullRequestFeedbackError } from '../../lib/notify/pull-request-feedback';
import { pullRequestReporterFor } from '../../lib/pull-requests/reporter';
import { startFakeGitHub, type FakeGitHub } from '../git-auth/fake-github';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: unknown;
}

type Answer = (req: Seen) => { status: number; body: unknown };

async function startApi(answer: Answer): Promise<{ baseUrl: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString('utf8')));
    req.on('end', () => {
      const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: text === '' ? undefined : JSON.parse(text) as unknown };
      seen.push(s);
      const a = answer(s);
      res.writeHead(a.status, { 'content-type': 'application/json' }).end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const SHA = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821';

function pr(over: Partial<PullRequestEvent> = {}): PullRequestEvent {
  return {
    provider: 'github',
    deliveryId: 'd1',
    action: 'plan',
    repository: { fullName: 'acme/infrastructure-live', cloneUrls: ['https://github.com/acme/infrastructure-live.git'] },
    number: 2,
    headBranch: 'changes',
    headSha: SHA,
    baseBranch: 'main',
    author: 'Codertocat',
    title: 'Raise the count',
    receivedAt: '2026-03-01T12:00:00.000Z',
    ...over,
  };
}

const result = renderPullRequestSummary({
  number: 2,
  headSha: SHA,
  stageOrder: ['dev', 'prod'],
  rows: [
    { stage: 'dev', account: 'dev', module: 'dev/us-east-1/app', status: 'changes', add: 1, change: 0, destroy: 0 },
    { stage: 'prod', account: 'prod', module: 'prod/us-east-1/db', status: 'changes', add: 0, change: 0, destroy: 1, destroyed: ['aws_db_instance.main'] },
  ],
});

describe('GitHub check runs through a GitHub App', () => {
  let github: FakeGitHub;
  beforeEach(async () => {
    github = await startFakeGitHub({ visible: ['infrastructure-live'] });
  });
  afterEach(async () => {
    await github.close();
  });

  it('goes from queued to in progress to completed on one check run, with installation tokens scoped to checks', async () => {
    // GIVEN a checks API that hands out check run 42
    const api = await startApi((req) => (req.method === 'POST' ? { status: 201, body: { id: 42 } } : { status: 200, body: { id: 42 } }));
    try {
      const reporter = pullRequestReporterFor({
        provider: 'github',
        credential: { githubApp: { appId: github.appId, installationId: github.installationId, privateKey: github.privateKey, apiBaseUrl: github.apiBaseUrl } },
        repository: 'acme/infrastructure-live',
        checkName: 'tfstep plan',
        apiBaseUrl: api.baseUrl,
      });

      // WHEN the run is queued, starts and completes
      await reporter.queued(pr(), 'https://runs.example.com/pr-2');
      await reporter.started(pr());
      await reporter.completed(pr(), result);

      // THEN one check run was created queued and updated twice, with the details link each time
      expect(api.seen.map((s) => `${s.method} ${s.url}`)).toEqual([
        'POST /repos/acme/infrastructure-live/check-runs',
        'PATCH /repos/acme/infrastructure-live/check-runs/42',
        'PATCH /repos/acme/infrastructure-live/check-runs/42',
      ]);
      expect(api.seen[0]!.body).toMatchObject({ name: 'tfstep plan', head_sha: SHA, status: 'queued', details_url: 'https://runs.example.com/pr-2' });
      expect(api.seen[1]!.body).toMatchObject({ status: 'in_progress', details_url: 'https://runs.example.com/pr-2' });
      expect(api.seen[2]!.body).toMatchObject({
        status: 'completed',
        conclusion: 'success',
        output: { title: '1 to add, 0 to change, 1 to destroy in 2 accounts', summary: result.summary },
      });
      expect((api.seen[2]!.body as { completed_at?: string }).completed_at).toMatch(/^\d{4}-\d\d-\d\dT/);
      // AND every request carried an installation token minted for this repository with checks: write
      const issued = [...github.issued.values()];
      expect(api.seen.every((s) => issued.includes(String(s.headers.authorization).replace(/^Bearer /, '')))).toBe(true);
      expect(api.seen[0]!.headers['x-github-api-version']).toBe('2022-11-28');
      expect(github.requests[0]).toMatchObject({ repositories: ['infrastructure-live'], permissions: { checks: 'write', contents: 'read' } });
    } finally {
      await api.close();
    }
  });

  it('completes a cancelled run as cancelled', async () => {
    // GIVEN a checks API
    const api = await startApi(() => ({ status: 201, body: { id: 7 } }));
    try {
      const reporter = pullRequestReporterFor({
        provider: 'github',
        credential: { githubApp: { appId: github.appId, installationId: github.installationId, privateKey: github.privateKey, apiBaseUrl: github.apiBaseUrl } },
        repository: 'acme/infrastructure-live',
        checkName: 'tfstep plan',
        apiBaseUrl: api.baseUrl,
      });

      // WHEN a newer push cancels the queued run
      await reporter.queued(pr());
      await reporter.cancelled(pr(), 'a newer push to #2 replaced this run');

      // THEN the check run completes as cancelled, saying why
      expect(api.seen[1]!.body).toMatchObject({ status: 'completed', conclusion: 'cancelled', output: { title: 'Cancelled', summary: 'a newer push to #2 replaced this run' } });
    } finally {
      await api.close();
    }
  });
});

describe('GitHub with a token', () => {
  it('posts commit statuses, since only GitHub Apps may write check runs', async () => {
    // GIVEN a statuses API
    const api = await startApi(() => ({ status: 201, body: { id: 1 } }));
    try {
      const reporter = pullRequestReporterFor({ provider: 'github', credential: { token: 'ghp_test' }, repository: 'acme/infrastructure-live', checkName: 'tfstep plan', apiBaseUrl: api.baseUrl });

      // WHEN the run goes through its steps and fails
      await reporter.queued(pr(), 'https://runs.example.com/pr-2');
      await reporter.started(pr());
      await reporter.completed(pr(), { ...result, conclusion: 'failure', title: '1 plan failed' });

      // THEN three statuses on the head commit, named like the check run
      expect(api.seen.map((s) => `${s.method} ${s.url}`)).toEqual(Array(3).fill(`POST /repos/acme/infrastructure-live/statuses/${SHA}`));
      expect(api.seen.map((s) => (s.body as { state: string }).state)).toEqual(['pending', 'pending', 'failure']);
      expect(api.seen[2]!.body).toMatchObject({ context: 'tfstep plan', description: '1 plan failed', target_url: 'https://runs.example.com/pr-2' });
      expect(api.seen[0]!.headers.authorization).toBe('Bearer ghp_test');
    } finally {
      await api.close();
    }
  });
});

describe('the run\'s page on every step', () => {
  it('links it from each commit status though each step makes its own reporter, as in AWS', async () => {
    // GIVEN a statuses API, and a fresh reporter per step told the run's page
    const api = await startApi(() => ({ status: 201, body: { id: 1 } }));
    try {
      const fresh = () => {
        const reporter = pullRequestReporterFor({ provider: 'github', credential: { token: 'ghp_test' }, repository: 'acme/infrastructure-live', checkName: 'tfstep plan', apiBaseUrl: api.baseUrl });
        reporter.linkRun?.(pr(), 'https://console.example.com/pr-2');
        return reporter;
      };
      // WHEN the run is queued, started and completed
      await fresh().queued(pr(), 'https://console.example.com/pr-2');
      await fresh().started(pr());
      await fresh().completed(pr(), result);
      // THEN every status carries the link, since each one replaces the last of its context
      expect(api.seen.map((s) => (s.body as { target_url?: string }).target_url)).toEqual(Array(3).fill('https://console.example.com/pr-2'));
    } finally {
      await api.close();
    }
  });
});

describe('GitHub API errors', () => {
  it('fails with the status and a hint when GitHub refuses a check run', async () => {
    // GIVEN GitHub's answer to a personal access token
    const api = await startApi(() => ({ status: 403, body: { message: 'You must authenticate via a GitHub App.' } }));
    try {
      const client = new GitHubCheckRunClient({ baseUrl: api.baseUrl, token: () => Promise.resolve('ghp_x') });

      // WHEN a check run is created
      const attempt = client.create('acme/infrastructure-live', SHA, 'tfstep plan', { status: 'queued' });

      // THEN the error names the request, GitHub's message and what to do
      await expect(attempt).rejects.toThrow(PullRequestFeedbackError);
      await expect(attempt).rejects.toThrow(/creating check run "tfstep plan" on acme\/infrastructure-live@ec26c3e57ca3 failed with HTTP 403: You must authenticate via a GitHub App\.; .*GitHub App with "Checks: write"/);
    } finally {
      await api.close();
    }
  });
});

describe('GitLab merge request note', () => {
  it('creates the note once and updates it in place, also from a fresh process', async () => {
    // GIVEN a notes API that keeps notes
    const notes: { id: number; body: string; system: boolean }[] = [{ id: 5, body: 'Looks good', system: false }];
    const api = await startApi((req) => {
      const base = '/projects/1/merge_requests/3/notes';
      if (req.method === 'GET' && req.url.startsWith(`${base}?`)) return { status: 200, body: [...notes].reverse() };
      if (req.method === 'POST' && req.url === base) {
        const note = { id: 100 + notes.length, body: (req.body as { body: string }).body, system: false };
        notes.push(note);
        return { status: 201, body: note };
      }
      const m = /^\/projects\/1\/merge_requests\/3\/notes\/(\d+)$/.exec(req.url);
      const note = notes.find((n) => n.id === Number(m?.[1]));
      if (req.method === 'PUT' && note) {
        note.body = (req.body as { body: string }).body;
        return { status: 200, body: note };
      }
      return { status: 404, body: { message: '404 Not found' } };
    });
    try {
      const mr = pr({ provider: 'gitlab', number: 3, projectId: 1, repository: { fullName: 'acme/platform/infrastructure-live', cloneUrls: ['https://gitlab.example.com/acme/platform/infrastructure-live.git'] } });
      const props = { provider: 'gitlab' as const, credential: { token: 'glpat-test' }, repository: mr.repository.fullName, checkName: 'tfstep plan', apiBaseUrl: `${api.baseUrl}/` };

      // WHEN one process reports queued, started and completed, and a later process reports a newer push
      const first = pullRequestReporterFor(props);
      await first.queued(mr);
      await first.started(mr);
      await first.completed(mr, result);
      const later = pullRequestReporterFor(props);
      await later.queued({ ...mr, headSha: '1'.repeat(40) });

      // THEN there is exactly one tfstep note, found by its marker and updated in place
      expect(api.seen.map((s) => `${s.method} ${s.url.split('?')[0]}`)).toEqual([
        'GET /projects/1/merge_requests/3/notes',
        'POST /projects/1/merge_requests/3/notes',
        'PUT /projects/1/merge_requests/3/notes/101',
        'PUT /projects/1/merge_requests/3/notes/101',
        'GET /projects/1/merge_requests/3/notes',
        'PUT /projects/1/merge_requests/3/notes/101',
      ]);
      expect(notes.filter((n) => n.body.includes(NOTE_MARKER))).toHaveLength(1);
      expect(notes[0]).toEqual({ id: 5, body: 'Looks good', system: false });
      expect(api.seen.every((s) => s.headers['private-token'] === 'glpat-test')).toBe(true);
      // AND the completed note held the summary before the later push replaced it
      expect((api.seen[3]!.body as { body: string }).body).toContain(result.summary);
      expect(notes[1]!.body).toContain('queued for `111111111111`');
    } finally {
      await api.close();
    }
  });

  it('fails with the status when GitLab refuses the token', async () => {
    // GIVEN GitLab's answer to a bad token
    const api = await startApi(() => ({ status: 401, body: { message: '401 Unauthorized' } }));
    try {
      const client = new GitLabNoteClient({ baseUrl: api.baseUrl, token: () => Promise.resolve('bad') });

      // WHEN a note is written
      const attempt = client.upsert(1, 3, 'x');

      // THEN it fails saying so
      await expect(attempt).rejects.toThrow('listing notes of merge request !3 failed with HTTP 401: 401 Unauthorized; the token is invalid or expired');
    } finally {
      await api.close();
    }
  });
});
