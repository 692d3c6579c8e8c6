/**
 * What a run did to each account and where each target stands: an account's latest outcome in a
 * run (`RUN#<execution>` / `OUTCOME#<stage>#<account>`) and a target's last apply (`TARGET#...` /
 * `APPLIED`, with its per-repository copy under `TARGETS#<repo>`). Layout in ./keys.ts.
 */
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AccountOutcome } from '../statemachine/contracts';
import { outcomeKey, outcomePrefix, runKey, targetIndexKey, targetKeyOf } from './keys';
import { isConditionFailure, strip, type Item, type RunTable } from './table';

/** A target's last apply (`TARGET#...` / `APPLIED`). */
export interface AppliedRecord {
  readonly repository: string;
  readonly account: string;
  readonly module: string;
  readonly commit: string;
  readonly sequence: string;
  /** The admission generation of the run that applied it (see `RunRecord.generation`); absent on records written before generations. */
  readonly generation?: number;
  readonly execution: string;
  readonly appliedAt: string;
}

/** The outcomes held by a run's `OUTCOME#` items, by account. */
export function outcomesByAccount(outcomeItems: readonly Item[]): Record<string, AccountOutcome> {
  const accounts: Record<string, AccountOutcome> = {};
  for (const item of outcomeItems) {
    const outcome = item.outcome as AccountOutcome;
    accounts[outcome.account] = outcome;
  }
  return accounts;
}

/** Account outcomes and target records in the run table. */
export class Outcomes {
  constructor(private readonly table: RunTable) {}

  /** Stores an account's latest outcome in a run (replacing that of an earlier phase or attempt). */
  async setAccountOutcome(execution: string, stage: string, outcome: AccountOutcome): Promise<void> {
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.tableName,
        Item: { ...outcomeKey(execution, stage, outcome.account), type: 'outcome', stage, outcome, expiresAt: this.table.expiresAt() },
      }),
    );
  }

  /** An account's latest outcome in a run, or undefined. */
  async getAccountOutcome(execution: string, stage: string, account: string): Promise<AccountOutcome | undefined> {
    const item = await this.table.get(outcomeKey(execution, stage, account));
    return item ? (item.outcome as AccountOutcome) : undefined;
  }

  /** The latest outcome of each account of a stage that has one: what a stage gate reads. */
  async listAccountOutcomes(execution: string, stage: string): Promise<AccountOutcome[]> {
    const items = await this.table.queryAll(runKey(execution).pk, outcomePrefix(stage));
    return items.map((i) => i.outcome as AccountOutcome);
  }

  /** A target's last apply, or undefined. */
  async getApplied(repository: string, account: string, module: string): Promise<AppliedRecord | undefined> {
    return strip<AppliedRecord>(await this.table.get(targetKeyOf(repository, account, module)));
  }

  /** Every target's last apply in a repository. */
  async listApplied(repository: string): Promise<AppliedRecord[]> {
    return (await this.table.queryAll(`TARGETS#${repository}`)).map((i) => strip<AppliedRecord>(i)!);
  }

  /**
   * Records that a target was applied at a commit, only if that push is newer than the one
   * recorded: a target never moves backwards. Returns whether the record moved.
   */
  async recordApplied(record: Omit<AppliedRecord, 'appliedAt'> & { appliedAt?: string }): Promise<boolean> {
    const item = { type: 'target', ...record, appliedAt: record.appliedAt ?? this.table.now() };
    // Runs apply in admission order (the lease generation), which follows git ancestry; the push
    // sequence (arrival) orders only records written without a generation.
    const condition =
      record.generation === undefined
        ? { ConditionExpression: 'attribute_not_exists(pk) OR (attribute_not_exists(#gen) AND #seq < :seq)', ExpressionAttributeNames: { '#seq': 'sequence', '#gen': 'generation' }, ExpressionAttributeValues: { ':seq': record.sequence } }
        : { ConditionExpression: 'attribute_not_exists(pk) OR #gen < :gen OR (attribute_not_exists(#gen) AND #seq < :seq)', ExpressionAttributeNames: { '#seq': 'sequence', '#gen': 'generation' }, ExpressionAttributeValues: { ':seq': record.sequence, ':gen': record.generation } };
    let moved = false;
    for (const key of [targetKeyOf(record.repository, record.account, record.module), targetIndexKey(record.repository, record.account, record.module)]) {
      try {
        await this.table.doc.send(new PutCommand({ TableName: this.table.tableName, Item: { ...key, ...item }, ...condition }));
        moved = true;
      } catch (err) {
        if (!isConditionFailure(err)) throw err;
      }
    }
    return moved;
  }
}
