import { z } from 'zod';
import { boundCommitMessage, CommitShaSchema, jsonBytes, PUSH_BUDGET } from './push-event';

/** The EventBridge detail-type of a pull request (GitHub) or merge request (GitLab) event. */
export const PULL_REQUEST_EVENT_DETAIL_TYPE = 'Git Pull Request';

/**
 * What a pull request event asks for: plan its head commit, or stop the plans of a closed (or
 * merged) pull request.
 */
export const PullRequestActionSchema = z.enum(['plan', 'cancel']);
export type PullRequestAction = z.infer<typeof PullRequestActionSchema>;

/** A branch name as git allows it in a ref, bounded. */
const BranchSchema = z.string().min(1).max(255).regex(/^[A-Za-z0-9._/-]+$/, 'a branch name of letters, digits and "._/-"');

/**
 * The canonical pull request event: the only shape the rest of the system sees of a GitHub
 * `pull_request` or GitLab `merge_request` delivery. Only same-repository pull requests become
 * one: the webhook refuses forks before anything is published.
 */
export const PullRequestEventSchema = z
  .object({
    provider: z.enum(['github', 'gitlab', 'local']),
    deliveryId: z.string().min(1).max(200),
    action: PullRequestActionSchema,
    repository: z
      .object({
        fullName: z.string().min(1).max(300),
        cloneUrls: z
          .array(z.string().min(1).max(2048))
          .min(1)
          .refine((urls) => jsonBytes(urls) <= PUSH_BUDGET.cloneUrlsJsonBytes, `clone URLs of at most ${PUSH_BUDGET.cloneUrlsJsonBytes} bytes in all`),
      })
      .strict(),
    /** The pull request's number (GitHub) or merge request's IID (GitLab). */
    number: z.number().int().positive().max(2 ** 31),
    /** The source branch, in the same repository. */
    headBranch: BranchSchema,
    /** The commit to plan. */
    headSha: CommitShaSchema,
    /** The target branch: the repository's deploy branch. */
    baseBranch: BranchSchema,
    /** The pull request's author (GitHub login, GitLab username). */
    author: z.string().min(1).max(320),
    /**
     * Who caused this event (pushed the new commits, reopened it), when the host says. The
     * pipeline function checks it against `pullRequests.authors` as well as the author.
     */
    sender: z.string().min(1).max(320).optional(),
    /** The title, cut to the commit message budget. */
    title: z.string().refine((t) => jsonBytes(t) <= PUSH_BUDGET.messageJsonBytes, `a title of at most ${PUSH_BUDGET.messageJsonBytes} bytes as JSON`),
    /** The pull request's page. */
    url: z.string().max(2048).optional(),
    /** The GitHub App installation that sent the event, when one did. */
    installationId: z.number().int().positive().optional(),
    /** GitLab's numeric project id (the notes API takes it). */
    projectId: z.number().int().positive().optional(),
    receivedAt: z.iso.datetime(),
  })
  .strict();

export type PullRequestEvent = z.infer<typeof PullRequestEventSchema>;

/** The title cut the way commit messages are, so a long title never breaks the event budget. */
export const boundTitle = boundCommitMessage;

/** The git ref the host keeps for a pull request's head, fork or not. */
export function pullRequestRef(provider: PullRequestEvent['provider'], number: number): string {
  return provider === 'gitlab' ? `refs/merge-requests/${number}/head` : `refs/pull/${number}/head`;
}

/**
 * A stable key of one pull request: a newer event of the same key supersedes (cancels) the
 * older run. Lower-cased, since GitHub and GitLab names are case-insensitive.
 */
export function pullRequestKey(event: Pick<PullRequestEvent, 'provider' | 'repository' | 'number'>): string {
  return `${event.provider}:${event.repository.fullName.toLowerCase()}#${event.number}`;
}
