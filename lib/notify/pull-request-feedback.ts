/**
 * Feedback on a pull request while its plans run: a GitHub check run that goes from queued to
 * in progress to completed, or one GitLab merge request note updated in place.
 *
 * GitHub: "Create a check run" (`POST /repos/{owner}/{repo}/check-runs`) and "Update a check run"
 * (`PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}`),
 * https://docs.github.com/rest/checks/runs. Writing check runs is for GitHub Apps only ("OAuth
 * apps and authenticated users are not able to create" them), so a personal access token gets
 * 403: with a token, a commit status (`tfstep plan`) is posted instead, and the summary goes to
 * the log. `output.summary` holds at most 65,535 characters (see lib/domain/pull-request-summary.ts).
 *
 * GitLab: "Notes API", https://docs.gitlab.com/api/notes/ — create a merge request note
 * (`POST /projects/:id/merge_requests/:merge_request_iid/notes`), list them (`GET` the same path)
 * and modify one (`PUT .../notes/:note_id`, body `body`), authenticated by `PRIVATE-TOKEN`.
 * tfstep's note is found again by a marker in its body, so each push updates the same note.
 */
import { NotifyError } from './errors';

/** The marker that finds tfstep's own note on a merge request again, to update it in place (invisible in Markdown). */
export const NOTE_MARKER = '<!-- tfstep:pull-request-plan -->';

/** How a check run ended, as GitHub names it (the subset tfstep uses). */
export type CheckConclusion = 'success' | 'failure' | 'neutral' | 'cancelled';

/** Where a token comes from; called before each request, so it may mint or cache. */
export type PullRequestTokenSource = () => Promise<string>;

/** A failed request to the git host's API. */
export class PullRequestFeedbackError extends NotifyError {
  constructor(
    readonly status: number,
    readonly what: string,
    detail: string,
  ) {
    const hint =
      status === 401
        ? 'the token is invalid or expired'
        : status === 403
          ? 'the credentials may not write here (GitHub check runs need a GitHub App with "Checks: write"; GitLab notes need the api scope)'
          : status === 404
            ? 'the repository, pull request or note was not found, or the credentials cannot see it'
            : 'the git host refused the request';
    super(`${what} failed with HTTP ${status}: ${detail}; ${hint}`);
    this.name = 'PullRequestFeedbackError';
  }
}

async function failure(res: Response, what: string): Promise<PullRequestFeedbackError> {
  const text = await res.text().catch(() => '');
  let detail = text.slice(0, 200);
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') detail = message.slice(0, 200);
  } catch {
    // not JSON: keep the text
  }
  return new PullRequestFeedbackError(res.status, what, detail);
}

/** Options of the API clients. */
export interface ApiClientProps {
  readonly token: PullRequestTokenSource;
  /** GitHub: `https://api.github.com` or `https://HOST/api/v3`; GitLab: `https://HOST/api/v4`. */
  readonly baseUrl: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const REPO = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const SHA = /^[0-9a-f]{40}$/;

/** A check run's state as GitHub names it. */
export type CheckStatus = 'queued' | 'in_progress' | 'completed';

/** What a check run says; `conclusion` only when completed. */
export interface CheckRunUpdate {
  readonly status: CheckStatus;
  readonly conclusion?: CheckConclusion;
  readonly title?: string;
  readonly summary?: string;
  readonly detailsUrl?: string;
}

/** GitHub check runs through the REST API. */
export class GitHubCheckRunClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;

  constructor(private readonly props: ApiClientProps) {
    this.baseUrl = props.baseUrl.replace(/\/+$/, '');
    this.fetch = props.fetch ?? globalThis.fetch;
  }

  private async send(method: 'POST' | 'PATCH' | 'GET', path: string, what: string, body?: unknown): Promise<Response> {
    const token = await this.props.token();
    return this.fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        accept: 'application/vnd.github+json',
        authorization: `Bearer ${token}`,
        'user-agent': 'tfstep',
        'x-github-api-version': '2022-11-28',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    }).then(async (res) => {
      if (!res.ok && res.status !== 404) throw await failure(res, what);
      return res;
    });
  }

  private static body(update: CheckRunUpdate, now: Date): Record<string, unknown> {
    return {
      status: update.status,
      ...(update.detailsUrl ? { details_url: update.detailsUrl } : {}),
      ...(update.status === 'in_progress' ? { started_at: now.toISOString() } : {}),
      ...(update.status === 'completed' ? { conclusion: update.conclusion ?? 'neutral', completed_at: now.toISOString() } : {}),
      ...(update.title !== undefined && update.summary !== undefined ? { output: { title: update.title, summary: update.summary } } : {}),
    };
  }

  /** Creates a check run on `headSha`; returns its id. */
  async create(repository: string, headSha: string, name: string, update: CheckRunUpdate, now = new Date()): Promise<number> {
    if (!REPO.test(repository)) throw new TypeError(`repository ${JSON.stringify(repository)} is not owner/name`);
    if (!SHA.test(headSha)) throw new TypeError(`sha ${JSON.stringify(headSha)} is not a full 40-character commit SHA`);
    const what = `creating check run "${name}" on ${repository}@${headSha.slice(0, 12)}`;
    const res = await this.send('POST', `/repos/${repository}/check-runs`, what, { name, head_sha: headSha, ...GitHubCheckRunClient.body(update, now) });
    if (res.status === 404) throw await failure(res, what);
    const doc = (await res.json()) as { id?: unknown };
    if (typeof doc.id !== 'number') throw new PullRequestFeedbackError(res.status, what, 'the answer has no check run id');
    return doc.id;
  }

  /** Updates a check run. */
  async update(repository: string, id: number, update: CheckRunUpdate, now = new Date()): Promise<void> {
    const what = `updating check run ${id} on ${repository}`;
    const res = await this.send('PATCH', `/repos/${repository}/check-runs/${id}`, what, GitHubCheckRunClient.body(update, now));
    if (res.status === 404) throw await failure(res, what);
  }
}

/** One GitLab merge request note, created once and then updated in place. */
export class GitLabNoteClient {
  private readonly baseUrl: string;
  private readonly fetch: typeof fetch;
  /** Note ids already found or created, by project and merge request. */
  private readonly notes = new Map<string, number>();

  constructor(private readonly props: ApiClientProps) {
    this.baseUrl = props.baseUrl.replace(/\/+$/, '');
    this.fetch = props.fetch ?? globalThis.fetch;
  }

  private async send(method: 'GET' | 'POST' | 'PUT', path: string, what: string, body?: unknown): Promise<unknown> {
    const token = await this.props.token();
    const res = await this.fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'private-token': token, 'user-agent': 'tfstep', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw await failure(res, what);
    return res.json();
  }

  /**
   * Writes `body` as tfstep's note on the merge request: the note holding {@link NOTE_MARKER}
   * is modified when there is one, else a note is created. Returns the note's id.
   */
  async upsert(projectId: number, mergeRequestIid: number, body: string): Promise<number> {
    const key = `${projectId}!${mergeRequestIid}`;
    const base = `/projects/${projectId}/merge_requests/${mergeRequestIid}/notes`;
    const text = body.includes(NOTE_MARKER) ? body : `${NOTE_MARKER}\n${body}`;
    let id = this.notes.get(key);
    if (id === undefined) {
      const list = (await this.send('GET', `${base}?sort=desc&order_by=created_at&per_page=100`, `listing notes of merge request !${mergeRequestIid}`)) as { id?: unknown; body?: unknown; system?: unknown }[];
      const found = Array.isArray(list) ? list.find((n) => n.system !== true && typeof n.body === 'string' && n.body.includes(NOTE_MARKER) && typeof n.id === 'number') : undefined;
      id = found?.id as number | undefined;
    }
    if (id !== undefined) {
      await this.send('PUT', `${base}/${id}`, `updating note ${id} of merge request !${mergeRequestIid}`, { body: text });
    } else {
      const created = (await this.send('POST', base, `creating a note on merge request !${mergeRequestIid}`, { body: text })) as { id?: unknown };
      if (typeof created.id !== 'number') throw new PullRequestFeedbackError(201, `creating a note on merge request !${mergeRequestIid}`, 'the answer has no note id');
      id = created.id;
    }
    this.notes.set(key, id);
    return id;
  }
}
