/**
 * One interface for a pull request run's feedback, whatever the host: GitHub check runs, GitLab
 * notes, or (the local mode) a record of the check run that would have been posted.
 */
import type { PullRequestEvent } from '../domain/pull-request-event';
import type { CheckConclusion, PullRequestSummary } from '../domain/pull-request-summary';
import { GitHubAppTokens } from '../git-auth/github-app';
import { repositoryNameOf, type GitCredential } from '../git-auth/credentials';
import { GitHubStatusClient, type CommitState } from '../notify/github-status';
import { GitHubCheckRunClient, GitLabNoteClient, type CheckStatus } from '../notify/pull-request-feedback';

/** The check run as GitHub would hold it: what `GET /runs` shows in the local mode. */
export interface CheckRunRecord {
  readonly name: string;
  readonly repository: string;
  readonly head_sha: string;
  readonly status: CheckStatus;
  readonly conclusion?: CheckConclusion | 'cancelled';
  readonly details_url?: string;
  readonly output?: { readonly title: string; readonly summary: string };
  /** Every status it went through, in order. */
  readonly statuses: readonly CheckStatus[];
}

/** Tells the pull request how its plans go. Failures are the caller's to log: feedback never fails a run. */
export interface PullRequestReporter {
  queued(pr: PullRequestEvent, detailsUrl?: string): Promise<void>;
  started(pr: PullRequestEvent): Promise<void>;
  completed(pr: PullRequestEvent, result: PullRequestSummary): Promise<void>;
  /** A newer push (or closing the pull request) stopped this run. */
  cancelled(pr: PullRequestEvent, reason: string): Promise<void>;
  /**
   * The run's page, for what this reporter writes next about the pull request head: in AWS each
   * step makes its own reporter, so the one that queued the run is not the one that completes it.
   */
  linkRun?(pr: PullRequestEvent, detailsUrl: string): void;
}

const key = (pr: PullRequestEvent) => `${pr.repository.fullName}@${pr.headSha}`;

/** GitHub: one check run per pull request head, queued, in progress, completed. */
export class GitHubCheckRunReporter implements PullRequestReporter {
  private readonly ids = new Map<string, number>();
  private readonly details = new Map<string, string>();

  constructor(
    private readonly client: GitHubCheckRunClient,
    private readonly name: string,
  ) {}

  /** The check run's id of a pull request head, once created here or {@link remember}ed. */
  idOf(pr: PullRequestEvent): number | undefined {
    return this.ids.get(key(pr));
  }

  /** Takes the id of a check run another process created, so the next step updates that one. */
  remember(pr: PullRequestEvent, id: number): void {
    this.ids.set(key(pr), id);
  }

  /**
   * Each update sends `details_url` again ("Update a check run", https://docs.github.com/rest/checks/runs#update-a-check-run:
   * `details_url`, "The URL of the integrator's site that has the full details of the check"), so
   * a check run created by another step without it still gets the link.
   */
  linkRun(pr: PullRequestEvent, detailsUrl: string): void {
    this.details.set(key(pr), detailsUrl);
  }

  async queued(pr: PullRequestEvent, detailsUrl?: string): Promise<void> {
    if (detailsUrl) this.details.set(key(pr), detailsUrl);
    const id = await this.client.create(pr.repository.fullName, pr.headSha, this.name, {
      status: 'queued',
      ...(detailsUrl ? { detailsUrl } : {}),
      title: 'Plans queued',
      summary: `Plans of #${pr.number} at \`${pr.headSha.slice(0, 12)}\` are queued.`,
    });
    this.ids.set(key(pr), id);
  }

  private async put(pr: PullRequestEvent, update: Parameters<GitHubCheckRunClient['update']>[2]): Promise<void> {
    const detailsUrl = this.details.get(key(pr));
    const full = { ...update, ...(detailsUrl ? { detailsUrl } : {}) };
    const id = this.ids.get(key(pr));
    // Another process may have queued it: a check run made now says the same.
    if (id === undefined) this.ids.set(key(pr), await this.client.create(pr.repository.fullName, pr.headSha, this.name, full));
    else await this.client.update(pr.repository.fullName, id, full);
  }

  started(pr: PullRequestEvent): Promise<void> {
    return this.put(pr, { status: 'in_progress', title: 'Planning', summary: `Planning #${pr.number} at \`${pr.headSha.slice(0, 12)}\` in every account it touches.` });
  }

  completed(pr: PullRequestEvent, result: PullRequestSummary): Promise<void> {
    return this.put(pr, { status: 'completed', conclusion: result.conclusion, title: result.title, summary: result.summary });
  }

  cancelled(pr: PullRequestEvent, reason: string): Promise<void> {
    return this.put(pr, { status: 'completed', conclusion: 'cancelled', title: 'Cancelled', summary: reason });
  }
}

/** GitLab: one note on the merge request, updated in place at each step. */
export class GitLabNoteReporter implements PullRequestReporter {
  private readonly details = new Map<string, string>();

  constructor(private readonly client: GitLabNoteClient) {}

  linkRun(pr: PullRequestEvent, detailsUrl: string): void {
    this.details.set(key(pr), detailsUrl);
  }

  private runLink(pr: PullRequestEvent): string {
    const url = this.details.get(key(pr));
    return url ? ` ([run](${url}))` : '';
  }

  private async write(pr: PullRequestEvent, body: string): Promise<void> {
    if (pr.projectId === undefined) throw new TypeError(`merge request !${pr.number} has no GitLab project id`);
    await this.client.upsert(pr.projectId, pr.number, body);
  }

  queued(pr: PullRequestEvent, detailsUrl?: string): Promise<void> {
    if (detailsUrl) this.details.set(key(pr), detailsUrl);
    return this.write(pr, `**tfstep plan**: queued for \`${pr.headSha.slice(0, 12)}\`${this.runLink(pr)}.`);
  }

  started(pr: PullRequestEvent): Promise<void> {
    return this.write(pr, `**tfstep plan**: planning \`${pr.headSha.slice(0, 12)}\` in every account it touches${this.runLink(pr)}.`);
  }

  completed(pr: PullRequestEvent, result: PullRequestSummary): Promise<void> {
    const icon = result.conclusion === 'success' ? ':white_check_mark:' : result.conclusion === 'failure' ? ':x:' : ':warning:';
    return this.write(pr, `${result.summary}\n\n${icon} **tfstep plan**: ${result.title}`);
  }

  cancelled(pr: PullRequestEvent, reason: string): Promise<void> {
    return this.write(pr, `**tfstep plan** of \`${pr.headSha.slice(0, 12)}\`${this.runLink(pr)}: cancelled. ${reason}`);
  }
}

/** The local mode: keeps the check run that would have been posted, per pull request head. */
export class RecordingReporter implements PullRequestReporter {
  readonly checkRuns = new Map<string, CheckRunRecord>();

  private readonly details = new Map<string, string>();

  constructor(private readonly name = 'tfstep plan') {}

  linkRun(pr: PullRequestEvent, detailsUrl: string): void {
    this.details.set(key(pr), detailsUrl);
  }

  private set(pr: PullRequestEvent, patch: Partial<CheckRunRecord> & { status: CheckStatus }): void {
    const old = this.checkRuns.get(key(pr));
    const detailsUrl = this.details.get(key(pr));
    this.checkRuns.set(key(pr), {
      name: this.name,
      repository: pr.repository.fullName,
      head_sha: pr.headSha,
      ...old,
      ...(detailsUrl ? { details_url: detailsUrl } : {}),
      ...patch,
      statuses: [...(old?.statuses ?? []), patch.status],
    });
  }

  /** The check run of a pull request head, if any. */
  checkRunOf(pr: Pick<PullRequestEvent, 'repository' | 'headSha'>): CheckRunRecord | undefined {
    return this.checkRuns.get(`${pr.repository.fullName}@${pr.headSha}`);
  }

  queued(pr: PullRequestEvent, detailsUrl?: string): Promise<void> {
    this.set(pr, { status: 'queued', ...(detailsUrl ? { details_url: detailsUrl } : {}) });
    return Promise.resolve();
  }

  started(pr: PullRequestEvent): Promise<void> {
    this.set(pr, { status: 'in_progress' });
    return Promise.resolve();
  }

  completed(pr: PullRequestEvent, result: PullRequestSummary): Promise<void> {
    this.set(pr, { status: 'completed', conclusion: result.conclusion, output: { title: result.title, summary: result.summary } });
    return Promise.resolve();
  }

  cancelled(pr: PullRequestEvent, reason: string): Promise<void> {
    this.set(pr, { status: 'completed', conclusion: 'cancelled', output: { title: 'Cancelled', summary: reason } });
    return Promise.resolve();
  }
}

/**
 * GitHub with a personal access token, which may not write check runs: a commit status named
 * like the check run, whose description carries the title; the summary goes to the log only.
 */
export class GitHubCommitStatusReporter implements PullRequestReporter {
  private readonly details = new Map<string, string>();

  constructor(
    private readonly client: GitHubStatusClient,
    private readonly name: string,
  ) {}

  /**
   * A commit status is a new status each time, shown as the latest of its context, and its
   * `target_url` is its own ("Commit statuses", https://docs.github.com/rest/commits/statuses:
   * "Create a commit status", `target_url`): so each one carries the link again.
   */
  linkRun(pr: PullRequestEvent, detailsUrl: string): void {
    this.details.set(key(pr), detailsUrl);
  }

  private async set(pr: PullRequestEvent, state: CommitState, description: string): Promise<void> {
    const targetUrl = this.details.get(key(pr));
    await this.client.setStatus({ repository: pr.repository.fullName, sha: pr.headSha, state, context: this.name, description, ...(targetUrl ? { targetUrl } : {}) });
  }

  queued(pr: PullRequestEvent, detailsUrl?: string): Promise<void> {
    if (detailsUrl) this.details.set(key(pr), detailsUrl);
    return this.set(pr, 'pending', 'Plans queued');
  }

  started(pr: PullRequestEvent): Promise<void> {
    return this.set(pr, 'pending', 'Planning');
  }

  completed(pr: PullRequestEvent, result: PullRequestSummary): Promise<void> {
    return this.set(pr, result.conclusion === 'failure' ? 'failure' : 'success', result.title);
  }

  cancelled(pr: PullRequestEvent, reason: string): Promise<void> {
    return this.set(pr, 'error', `Cancelled: ${reason}`);
  }
}

/** What {@link pullRequestReporterFor} needs. */
export interface PullRequestReporterProps {
  readonly provider: 'github' | 'gitlab';
  /** The central git credentials (`git.centralSecret`), as parsed. */
  readonly credential: GitCredential;
  /** The repository, `owner/name`. */
  readonly repository: string;
  /** The check run's (commit status's) name. */
  readonly checkName: string;
  /** GitHub: `https://api.github.com` or `https://HOST/api/v3`; GitLab: `https://HOST/api/v4`. */
  readonly apiBaseUrl: string;
  readonly fetch?: typeof fetch;
}

/**
 * The reporter the credentials allow: a GitHub App writes check runs with installation tokens
 * scoped to the one repository and `checks: write`; a GitHub token writes commit statuses; a
 * GitLab token writes the note.
 * @throws TypeError when the credential cannot write to the host (an SSH key)
 */
export function pullRequestReporterFor(props: PullRequestReporterProps): PullRequestReporter {
  const { credential } = props;
  const fetchOption = props.fetch ? { fetch: props.fetch } : {};
  if (props.provider === 'gitlab') {
    if (!('token' in credential)) throw new TypeError('GitLab merge request notes need a token credential ({"token": "glpat-..."}) with the api scope');
    const token = credential.token;
    return new GitLabNoteReporter(new GitLabNoteClient({ baseUrl: props.apiBaseUrl, token: () => Promise.resolve(token), ...fetchOption }));
  }
  if ('githubApp' in credential) {
    const tokens = new GitHubAppTokens({ ...credential.githubApp, apiBaseUrl: credential.githubApp.apiBaseUrl ?? props.apiBaseUrl }, fetchOption);
    const name = repositoryNameOf(props.repository).name;
    const client = new GitHubCheckRunClient({ baseUrl: props.apiBaseUrl, token: async () => (await tokens.token([name], CHECKS_WRITE)).token, ...fetchOption });
    return new GitHubCheckRunReporter(client, props.checkName);
  }
  if ('token' in credential) {
    const token = credential.token;
    return new GitHubCommitStatusReporter(new GitHubStatusClient({ baseUrl: props.apiBaseUrl, token: () => Promise.resolve(token), ...fetchOption }), props.checkName);
  }
  throw new TypeError('pull request feedback on GitHub needs a GitHub App or a token credential, not an SSH key');
}

/** What an installation token for check runs asks for: checks, and reading the repository. */
export const CHECKS_WRITE = { checks: 'write', contents: 'read' } as const;
