/**
 * The links of a pull request run's summary: each module's plan log (its account's runner task
 * writes one log, `artifactKeys.log(task, account, 'plan')`; the run's item list names the task of
 * each account and module), the run's page, and the command that prints the logs. Each is there
 * only when the pull request dependencies say where such things are.
 */
import type { PullRequestSummaryInput } from '../domain/pull-request-summary';
import { artifactKeys } from '../domain/runner-contract';
import { planLogKeysOf } from '../pull-requests/rows';
import type { ArtifactStore, PullRequestDeps } from './deps';

/** What {@link pullRequestLinks} answers: the rows' log links and the summary's own links. */
export interface PullRequestLinks {
  readonly logUrl?: (account: string, module: string) => string | undefined;
  readonly summary: Pick<PullRequestSummaryInput, 'runUrl' | 'logsCommand'>;
}

/** The links of run `run`; an item list that is missing or unreadable leaves the rows without links. */
export async function pullRequestLinks(run: string, artifacts: Pick<ArtifactStore, 'get'>, prDeps: Pick<PullRequestDeps, 'runUrl' | 'logUrl' | 'logsCommand'>): Promise<PullRequestLinks> {
  const summary = {
    ...(prDeps.runUrl ? { runUrl: prDeps.runUrl(run) } : {}),
    ...(prDeps.logsCommand ? { logsCommand: prDeps.logsCommand(run) } : {}),
  };
  const toUrl = prDeps.logUrl;
  if (!toUrl) return { summary };
  // No item list: nothing was planned (every target skipped or not allowed).
  const raw = await artifacts.get(artifactKeys.planOnlyItems(run));
  let items: unknown;
  try {
    items = raw ? JSON.parse(raw.toString('utf8')) : [];
  } catch {
    items = [];
  }
  const keyOf = planLogKeysOf(items);
  return {
    summary,
    logUrl: (account, module) => {
      const key = keyOf(account, module);
      return key === undefined ? undefined : toUrl(key);
    },
  };
}
