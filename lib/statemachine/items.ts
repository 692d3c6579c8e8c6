/**
 * Item lists in the artifacts store: a stage's account items and the apply items of its plan
 * gate. Each is a JSON array the stage's Distributed Map reads with its ItemReader; its location
 * carries the SHA-256 of the bytes, so whoever reads it back (the gate, the approval) knows it is
 * the list that was written.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
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

/** Writes `items` under `key` and answers their location. */
export async function writeItems(artifacts: ItemsWriter, key: string, items: readonly AccountItem[]): Promise<ItemsLocation> {
  if (items.length === 0) throw new ItemListError(`refusing to write an empty item list to ${key}: a Map needs at least one item`);
  const body = JSON.stringify(items);
  await artifacts.put(key, body);
  return { bucket: artifacts.bucket, key, count: items.length, sha256: sha256(body) };
}

/** The apply item of an account the plan phase planned: the apply task definition and the hashes of its approved plans. */
export function applyItem(planned: AccountItem, approvedPlans: Record<string, string>): AccountItem {
  return { ...planned, phase: 'apply', taskDefinition: planned.applyTaskDefinition, approvedPlans };
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
