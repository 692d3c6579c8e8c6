/**
 * Item lists in the artifacts store: a stage's account items and the apply items of its plan
 * gate. Each is a JSON array the stage's Distributed Map reads with its ItemReader; its location
 * carries the SHA-256 of the bytes, so whoever reads it back (the gate, the approval) knows it is
 * the list that was written.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { mapLimit } from '../domain/concurrency';
import { restrictDependencies } from '../domain/replan';
import { artifactKeys, encodeManifest, MAX_MODULES_PER_TASK } from '../domain/runner-contract';
import { AccountItemSchema, type AccountItem, type ItemsLocation } from './contracts';
import { ItemListError } from './errors';

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** Where item lists are written: the artifacts bucket (a folder in the local mode). */
export interface ItemsWriter {
  /** The bucket name the state machine's ItemReader is given (a label in the local mode). */
  readonly bucket: string;
  /** Stores `body` under `key`, replacing what was there. */
  put(key: string, body: string): Promise<void>;
}

/** How many manifests are written at once. */
const MANIFEST_CONCURRENCY = 8;

/**
 * Writes the runner manifest of `item` (its modules, their dependencies, the module concurrency
 * and, on apply, approved plans) under the
 * account's own prefix, and answers the item carrying the manifest's key and SHA-256: all its
 * runner task's overrides will say about them.
 */
export async function withManifest(artifacts: ItemsWriter, execution: string, item: AccountItem): Promise<AccountItem> {
  const phase = item.phase;
  if (item.modules.length > MAX_MODULES_PER_TASK) {
    throw new ItemListError(
      `account ${item.name} has ${item.modules.length} modules to ${phase} in one task; a runner task takes at most ${MAX_MODULES_PER_TASK}: split the account's modules between accounts or push fewer changes at once`,
    );
  }
  const body = encodeManifest({
    account: item.name,
    execution,
    phase,
    modules: item.modules,
    ...(phase === 'apply' ? { approvedPlans: item.approvedPlans } : {}),
    ...(item.dependencies && Object.keys(item.dependencies).length > 0 ? { dependencies: item.dependencies } : {}),
    ...(item.moduleConcurrency === undefined ? {} : { moduleConcurrency: item.moduleConcurrency }),
    ...(item.planOnly === undefined ? {} : { planOnly: item.planOnly }),
  });
  const key = artifactKeys.manifest(execution, item.name, phase);
  await artifacts.put(key, body);
  return { ...item, manifest: { key, sha256: sha256(body) } };
}

/**
 * Writes each item's runner manifest, then `items` under `key`, and answers their location.
 * @param execution the execution the items run in: the manifests' prefix
 */
export async function writeItems(artifacts: ItemsWriter, key: string, items: readonly AccountItem[], execution: string): Promise<ItemsLocation> {
  if (items.length === 0) throw new ItemListError(`refusing to write an empty item list to ${key}: a Map needs at least one item`);
  const withManifests = await mapLimit(items, MANIFEST_CONCURRENCY, (item) => withManifest(artifacts, execution, item));
  const body = JSON.stringify(withManifests);
  await artifacts.put(key, body);
  return { bucket: artifacts.bucket, key, count: items.length, sha256: sha256(body) };
}

/** The apply item of an account the plan phase planned: the apply task definition and the hashes of its approved plans. */
export function applyItem(planned: AccountItem, approvedPlans: Record<string, string>): AccountItem {
  // The plan's manifest does not carry over: writeItems writes the apply's own.
  const { manifest: _planManifest, ...rest } = planned;
  return { ...rest, phase: 'apply', taskDefinition: planned.applyTaskDefinition, approvedPlans };
}

/**
 * The plan item of a re-plan round: the account's `modules` alone (in the item's order), planned
 * again on the read-only plan task definition, with the dependencies between them.
 */
export function replanItem(applied: AccountItem, modules: readonly string[]): AccountItem {
  const { manifest: _applyManifest, dependencies, ...rest } = applied;
  const kept = applied.modules.filter((m) => modules.includes(m));
  const deps = restrictDependencies(dependencies, kept);
  return {
    ...rest,
    modules: kept,
    phase: 'plan',
    taskDefinition: applied.planTaskDefinition,
    approvedPlans: {},
    ...(deps && Object.keys(deps).length > 0 ? { dependencies: deps } : {}),
  };
}

/** Reads objects as bytes (the pipeline's store) or as text (the approval's reader). */
export interface ItemsReader {
  get(key: string): Promise<Buffer | string | undefined>;
}

/**
 * Reads the item list at `location`.
 * @throws ItemListError when it is missing, changed since it was written, or not a list of items
 */
export async function readItems(artifacts: ItemsReader, location: ItemsLocation): Promise<AccountItem[]> {
  const got = await artifacts.get(location.key);
  if (got === undefined) throw new ItemListError(`item list ${location.key} is not in the artifacts store`);
  const body = typeof got === 'string' ? Buffer.from(got, 'utf8') : got;
  const actual = sha256(body);
  if (actual !== location.sha256) {
    throw new ItemListError(`item list ${location.key} changed after it was written: SHA-256 ${actual}, expected ${location.sha256}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ItemListError(`item list ${location.key} is not JSON`);
  }
  const parsed = z.array(AccountItemSchema).safeParse(json);
  if (!parsed.success) throw new ItemListError(`item list ${location.key} is not a list of account items: ${parsed.error.issues[0]?.message ?? ''}`);
  if (parsed.data.length !== location.count) {
    throw new ItemListError(`item list ${location.key} holds ${parsed.data.length} items, expected ${location.count}`);
  }
  return parsed.data;
}
