/**
 * The run table: one DynamoDB table, string keys `pk` and `sk`, TTL attribute `expiresAt`
 * (epoch seconds). Several areas share it; each owns its own items (the `type` attribute, where
 * set, names the kind):
 *
 * | pk                                  | sk                                 | code                     | what                                        |
 * | ----------------------------------- | ---------------------------------- | ------------------------ | ------------------------------------------- |
 * | `DELIVERY#<provider>#<deliveryId>`  | `DELIVERY`                         | lib/webhook/deliveries.ts | webhook delivery dedup                      |
 * | `APPROVAL#<approvalId>`             | `APPROVAL`                         | lib/approval/store.ts    | an approval request and its decisions       |
 * | `RUN#<executionName>`               | `APPROVAL#<stage>`                 | lib/approval/store.ts    | pointer from a run's stage to its approval  |
 * | `RUN#<executionName>`               | `RUN`                              | lib/store/runs.ts        | a run: push, status, times, input, stages   |
 * | `RUN#<executionName>`               | `MODULE#<account>#<module>#<phase>`| lib/store/runs.ts        | one module's result in that run             |
 * | `RUN#<executionName>`               | `OUTCOME#<stage>#<account>`        | lib/store/outcomes.ts    | an account's latest outcome in that run     |
 * | `RUN#<executionName>`               | `PLANNED#<stage>#<account>`        | lib/store/runs.ts        | what the run plans for an account: modules, wave |
 * | `TARGET#<repo>#<account>#<module>`  | `APPLIED`                          | lib/store/outcomes.ts    | last applied commit and its push sequence   |
 * | `TARGETS#<repo>`                    | `<account>#<module>`               | lib/store/outcomes.ts    | the same, listable per repository           |
 * | `QUEUE#<repo>#<branch>`             | `ENTRY#<pushSequence>#<execution>` | lib/store/queue.ts       | a push waiting for (or holding) its branch  |
 * | `QUEUE#<repo>#<branch>`             | `LOCK`                             | lib/store/queue.ts       | the branch lease: holder, generation, high waters, last admitted pushes |
 * | `COMMIT#<repo>#<branch>#<sha>`      | `COMMIT`                           | lib/store/queue.ts       | which execution carries that push (dedup)   |
 * | `PLANONLY#<id>`                     | `RESULT#<repo>#<account>#<module>` | lib/store/plan-only.ts   | one target's result in a plan-only run       |
 * | `DRIFT#<repo>`                      | `<account>#<module>`               | lib/store/plan-only.ts   | the target's drift report line: status, changes, first and last seen |
 * | `DRIFT`                             | `LAST`                             | lib/store/plan-only.ts   | the last drift sweep: when, counts, notice  |
 * | `PRRUNS`                            | `RUN#<execution>`                  | lib/store/pull-requests.ts | one pull request run: its pull request, status, counts, check run conclusion |
 * | `PRACTIVE#<pull request key>`       | `ACTIVE`                           | lib/store/pull-requests.ts | the pull request's latest run, which a newer push stops |
 * | `FLEET`                             | `ACCOUNT#<accountId>`              | lib/store/fleet.ts       | one fleet account: stage, defaults, source, active or left |
 * | `FLEET`                             | `REFRESH`                          | lib/store/fleet.ts       | the last fleet refresh: when, from where, counts |
 *
 * `<repo>` is the repository's `owner/name`; a push sequence is `<receivedAt ISO>#<commit>`
 * (lib/planning/targets.ts `pushSequence`), so queue entries sort in push order. Target records
 * never expire: losing one would only make the next run plan that module again, but there is no
 * reason to. Fleet records never expire either: an account that leaves is marked, not deleted. Runs, module results, outcomes and commit admissions expire after {@link RUN_TTL_DAYS};
 * an approval and its pointer expire a retention period after the approval's deadline, and a
 * delivery after `DELIVERY_TTL_SECONDS`. Queue entries and the lock carry no TTL: admission
 * removes entries, and the lock is one item per branch. Reading a whole run (`RUN#<executionName>`) returns the approval pointers too; run readers pick
 * items by sort key prefix.
 */

/** Attribute names of the run table's keys, for CDK and the local mode. */
export const RUN_TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAt',
} as const;

/** Runs and their module results are kept this long (execution names are unique for 90 days). */
export const RUN_TTL_DAYS = 90;

export const runKey = (execution: string) => ({ pk: `RUN#${execution}`, sk: 'RUN' });
export const moduleKey = (execution: string, account: string, module: string, phase: string) => ({
  pk: `RUN#${execution}`,
  sk: `MODULE#${account}#${module}#${phase}`,
});
export const outcomePrefix = (stage: string) => `OUTCOME#${stage}#`;
/** Sort key prefix of a run's planned accounts (one item each, so a run of any size stays under the item limit). */
export const PLANNED_PREFIX = 'PLANNED#';
export const plannedKey = (execution: string, stage: string, account: string) => ({ pk: `RUN#${execution}`, sk: `${PLANNED_PREFIX}${stage}#${account}` });
export const outcomeKey = (execution: string, stage: string, account: string) => ({ pk: `RUN#${execution}`, sk: `${outcomePrefix(stage)}${account}` });
export const targetKeyOf = (repository: string, account: string, module: string) => ({ pk: `TARGET#${repository}#${account}#${module}`, sk: 'APPLIED' });
export const targetIndexKey = (repository: string, account: string, module: string) => ({ pk: `TARGETS#${repository}`, sk: `${account}#${module}` });
export const queuePk = (repository: string, branch: string) => `QUEUE#${repository}#${branch}`;
export const queueEntryKey = (repository: string, branch: string, sequence: string, execution: string) => ({
  pk: queuePk(repository, branch),
  sk: `ENTRY#${sequence}#${execution}`,
});
export const lockKey = (repository: string, branch: string) => ({ pk: queuePk(repository, branch), sk: 'LOCK' });
export const commitKey = (repository: string, branch: string, sha: string) => ({ pk: `COMMIT#${repository}#${branch}#${sha}`, sk: 'COMMIT' });
export const FLEET_PK = 'FLEET';
export const FLEET_ACCOUNT_PREFIX = 'ACCOUNT#';
export const fleetAccountKey = (accountId: string) => ({ pk: FLEET_PK, sk: `${FLEET_ACCOUNT_PREFIX}${accountId}` });
export const fleetRefreshKey = () => ({ pk: FLEET_PK, sk: 'REFRESH' });
