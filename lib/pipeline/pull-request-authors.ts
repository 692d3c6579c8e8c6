/**
 * The pipeline function's author check of a pull request event, before anything is read or
 * started: `pullRequests.authors` again (the webhook forwards authors it could only let in
 * through a GitHub team, since it holds no GitHub credentials), with team membership asked of
 * GitHub through the central git credentials (lib/pull-requests/authors.ts).
 */
import type { PullRequestEvent } from '../domain/pull-request-event';
import { checkAuthors } from '../pull-requests/authors';
import type { PipelineDeps, PullRequestDeps } from './deps';

/**
 * The reason a pull request is not planned, logged; undefined when its author and sender are
 * allowed. A refused pull request gets no run and no check run.
 *
 * A failed request to GitHub (anything but a membership or 404: a 5xx, a rate limit, a missing
 * permission, a timeout) is thrown, not turned into a refusal: the event then fails, EventBridge
 * tries it again and, after its retries, puts it in the rule's dead-letter queue where an operator
 * sees it. A refusal would drop a legitimate pull request's plans for a passing GitHub outage
 * with nothing on the pull request to say so; letting it through would plan what the list forbids.
 */
export async function authorRefusal(pr: PullRequestEvent, deps: Pick<PipelineDeps, 'config' | 'logger'>, prDeps: Pick<PullRequestDeps, 'teams'>): Promise<string | undefined> {
  const teams = prDeps.teams;
  const verdict = await checkAuthors(pr, deps.config.pullRequests?.authors, () => (teams ? teams(pr) : { unavailable: 'the pipeline was built without a way to ask GitHub about teams' }));
  if (verdict.allowed) return undefined;
  deps.logger.warn('pull request refused', { repository: pr.repository.fullName, pullRequest: pr.number, headSha: pr.headSha, author: pr.author, ...(pr.sender ? { sender: pr.sender } : {}), reason: verdict.reason });
  return verdict.reason;
}
