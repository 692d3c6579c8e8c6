/**
 * Pull request runs in the run table, beside the runs of pushes:
 * - `PRRUNS` / `RUN#<execution>`: one plan-only run of a pull request head: its pull request,
 *   status, targets, counts and the conclusion of the check run it posted (expires with the runs);
 * - `PRACTIVE#<pull request key>` / `ACTIVE`: the pull request's latest event (its time and its
 *   run, if it planned), which a newer push or closing the pull request replaces. Events claim it
 *   with a condition on their time, so of two events handled at the same moment exactly one
 *   replaces the other, and an older event arriving late never replaces a newer one.
 * One partition holds every pull request run: pull requests are few next to plans, and
 * `tfstep runs --pull-requests` reads them all at once.
 */
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { PullRequestEvent } from '../domain/pull-request-event';
import { isConditionFailure, strip, type RunTable } from './table';

/** Where a pull request run is. */
export type PullRequestRunStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

/** One pull request run as the run table keeps it. */
export interface PullRequestRunRecord {
  /** The plan-only execution's name. */
  readonly name: string;
  readonly kind: 'pull-request';
  /** The execution's ARN in AWS, the name in the local mode. */
  readonly executionId: string;
  readonly provider: 'github' | 'gitlab' | 'local';
  readonly repository: string;
  readonly pullRequest: number;
  readonly headSha: string;
  readonly headBranch: string;
  readonly baseBranch: string;
  readonly author: string;
  readonly title: string;
  readonly url?: string;
  /** GitLab's project id, for the note. */
  readonly projectId?: number;
  readonly status: PullRequestRunStatus;
  readonly startedAt: string;
  readonly stoppedAt?: string;
  /** Why it was cancelled or failed. */
  readonly reason?: string;
  /** Modules planned, and modules in accounts that do not plan pull requests. */
  readonly targets: number;
  readonly notAllowed: number;
  /** The check run's (note's) conclusion once completed. */
  readonly conclusion?: string;
  /** The GitHub check run's id, so each step updates the one check run. */
  readonly checkRunId?: number;
  /** The check run's title once completed. */
  readonly checkTitle?: string;
}

/** The fields of a run's record that come from its pull request event, the same in AWS and locally. */
export function pullRequestFields(pr: PullRequestEvent): Pick<PullRequestRunRecord, 'kind' | 'provider' | 'repository' | 'pullRequest' | 'headSha' | 'headBranch' | 'baseBranch' | 'author' | 'title' | 'url' | 'projectId'> {
  return {
    kind: 'pull-request',
    provider: pr.provider,
    repository: pr.repository.fullName,
    pullRequest: pr.number,
    headSha: pr.headSha,
    headBranch: pr.headBranch,
    baseBranch: pr.baseBranch,
    author: pr.author,
    title: pr.title,
    ...(pr.url ? { url: pr.url } : {}),
    ...(pr.projectId !== undefined ? { projectId: pr.projectId } : {}),
  };
}

const RUNS_PK = 'PRRUNS';
const runSk = (name: string) => `RUN#${name}`;
const activeKey = (prKey: string) => ({ pk: `PRACTIVE#${prKey}`, sk: 'ACTIVE' });

/** Pull request runs and each pull request's latest run. */
export class PullRequestRunStore {
  constructor(private readonly table: RunTable) {}

  /** Writes (or replaces) a run's record. */
  async put(record: PullRequestRunRecord): Promise<void> {
    await this.table.doc.send(new PutCommand({ TableName: this.table.tableName, Item: { pk: RUNS_PK, sk: runSk(record.name), type: 'pull-request-run', ...record, expiresAt: this.table.expiresAt() } }));
  }

  /**
   * Changes fields of a run's record in one conditional update; a run that is not there stays
   * absent. With `onlyIf`, the change is made only while the run's status is one of those: the
   * answer is then undefined when it was not (someone else moved the run on meanwhile).
   */
  async update(name: string, patch: Partial<Omit<PullRequestRunRecord, 'name' | 'kind'>>, onlyIf?: readonly PullRequestRunStatus[]): Promise<PullRequestRunRecord | undefined> {
    const fields = Object.entries(patch).filter(([, v]) => v !== undefined);
    if (fields.length === 0) return onlyIf ? undefined : this.get(name);
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    fields.forEach(([k, v], i) => {
      names[`#f${i}`] = k;
      values[`:f${i}`] = v;
    });
    let condition = 'attribute_exists(pk)';
    if (onlyIf) {
      names['#status'] = 'status';
      onlyIf.forEach((st, i) => (values[`:s${i}`] = st));
      condition += ` AND #status IN (${onlyIf.map((_, i) => `:s${i}`).join(', ')})`;
    }
    try {
      const res = await this.table.doc.send(
        new UpdateCommand({
          TableName: this.table.tableName,
          Key: { pk: RUNS_PK, sk: runSk(name) },
          UpdateExpression: `SET ${fields.map((_, i) => `#f${i} = :f${i}`).join(', ')}`,
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
        }),
      );
      return strip<PullRequestRunRecord>(res.Attributes);
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
  }

  async get(name: string): Promise<PullRequestRunRecord | undefined> {
    return strip<PullRequestRunRecord>(await this.table.get({ pk: RUNS_PK, sk: runSk(name) }));
  }

  /** Every pull request run, newest first. */
  async list(): Promise<PullRequestRunRecord[]> {
    const runs = (await this.table.queryAll(RUNS_PK, 'RUN#')).map((i) => strip<PullRequestRunRecord>(i)!);
    return runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.name.localeCompare(a.name));
  }

  /** The pull request's latest run's name, if any. */
  async active(prKey: string): Promise<string | undefined> {
    const item = await this.table.get(activeKey(prKey));
    return typeof item?.name === 'string' && item.name !== '' ? item.name : undefined;
  }

  /**
   * Claims the pull request for an event received at `receivedAt` (ISO text) and its run `name`
   * (none for a close). The claim holds unless an event received later already holds it; of
   * events received at the same moment the later claim wins. One conditional write, so two
   * claims at the same moment cannot both see the same predecessor: each replaces exactly the
   * one before it. Answers the run replaced (claimed), or the run of the later event that holds
   * the pull request (not claimed).
   */
  async claim(prKey: string, name: string | undefined, receivedAt: string): Promise<{ claimed: true; replaced?: string } | { claimed: false; holder?: string }> {
    try {
      const res = await this.table.doc.send(
        new PutCommand({
          TableName: this.table.tableName,
          Item: { ...activeKey(prKey), type: 'pull-request-active', name: name ?? '', receivedAt, expiresAt: this.table.expiresAt() },
          ConditionExpression: 'attribute_not_exists(#at) OR #at <= :at',
          ExpressionAttributeNames: { '#at': 'receivedAt' },
          ExpressionAttributeValues: { ':at': receivedAt },
          ReturnValues: 'ALL_OLD',
        }),
      );
      const replaced: unknown = res.Attributes?.name;
      return typeof replaced === 'string' && replaced !== '' ? { claimed: true, replaced } : { claimed: true };
    } catch (err) {
      if (!isConditionFailure(err)) throw err;
      const holder = await this.active(prKey);
      return holder ? { claimed: false, holder } : { claimed: false };
    }
  }
}
