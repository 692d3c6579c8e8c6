/**
 * The account's own record of the plans its plan task made. The plan task writes one record per
 * module (execution, module, commit, SHA-256 of the plan file); the apply task applies a saved
 * plan only when this account recorded exactly that plan for its commit, module and execution.
 *
 * The store lives in the target account and only the plan task can write it: a DynamoDB table
 * of the account stack (the plan role may only PutItem, the apply role may only GetItem), or in
 * the local mode a folder of the account's own beside the state directory. The central account
 * can write the saved plan (the artifacts bucket is its own) and the task's input, but not this.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { PlanRecordSchema, type PlanRecord } from '../domain/runner-contract';

/** How long a record is kept (DynamoDB TTL): execution names are unique for 90 days. */
export const PLAN_RECORD_TTL_DAYS = 90;

/** Raised when the store refuses this task's role (the apply task may not write, the plan task may not read). */
export class PlanRecordAccessDeniedError extends Error {
  override name = 'PlanRecordAccessDeniedError';
}

/** Where the account keeps its plan records. */
export interface PlanRecordStore {
  /** Records a plan this task made, replacing an earlier record of the same execution and module. */
  put(record: PlanRecord): Promise<void>;
  /** The record of `module` in `execution`, or undefined when this account recorded none. */
  get(execution: string, module: string): Promise<PlanRecord | undefined>;
}

function parseRecord(raw: unknown, where: string): PlanRecord {
  const parsed = PlanRecordSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`the plan record ${where} is malformed: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  return parsed.data;
}

/**
 * Records in a folder: `<root>/<execution>/<SHA-256 of the module path>.json`. Hashing the module
 * path keeps one flat file per module whatever the path looks like.
 */
export class FolderPlanRecordStore implements PlanRecordStore {
  constructor(readonly root: string) {}

  private fileOf(execution: string, module: string): string {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(execution)) throw new Error(`invalid execution name ${JSON.stringify(execution)}`);
    return path.join(this.root, execution, `${createHash('sha256').update(module).digest('hex')}.json`);
  }

  async put(record: PlanRecord): Promise<void> {
    const valid = PlanRecordSchema.parse(record);
    const file = this.fileOf(valid.execution, valid.module);
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(valid)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }

  async get(execution: string, module: string): Promise<PlanRecord | undefined> {
    const file = this.fileOf(execution, module);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`the plan record ${file} is not JSON`);
    }
    return parseRecord(json, file);
  }
}

function isAccessDenied(e: unknown): boolean {
  const name = (e as { name?: string }).name;
  return name === 'AccessDeniedException' || name === 'AccessDenied' || name === 'UnrecognizedClientException';
}

/**
 * Records in the account's DynamoDB table (partition key `execution`, sort key `module`).
 * Reads are strongly consistent: GetItem is eventually consistent by default and could miss a
 * record the plan task wrote moments ago (GetItem, Amazon DynamoDB API Reference,
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_GetItem.html).
 */
export class DynamoPlanRecordStore implements PlanRecordStore {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async put(record: PlanRecord): Promise<void> {
    const valid = PlanRecordSchema.parse(record);
    const expiresAt = Math.floor(this.now().getTime() / 1000) + PLAN_RECORD_TTL_DAYS * 24 * 3600;
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            execution: { S: valid.execution },
            module: { S: valid.module },
            account: { S: valid.account },
            commit: { S: valid.commit },
            sha256: { S: valid.sha256 },
            recordedAt: { S: valid.recordedAt },
            expiresAt: { N: String(expiresAt) },
          },
        }),
      );
    } catch (e) {
      if (isAccessDenied(e)) throw new PlanRecordAccessDeniedError(`this task's role may not record plans in ${this.tableName}: ${(e as Error).message}`);
      throw e;
    }
  }

  async get(execution: string, module: string): Promise<PlanRecord | undefined> {
    let item: Record<string, { S?: string }> | undefined;
    try {
      const res = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { execution: { S: execution }, module: { S: module } }, ConsistentRead: true }),
      );
      item = res.Item;
    } catch (e) {
      if (isAccessDenied(e)) throw new PlanRecordAccessDeniedError(`this task's role may not read the plan records in ${this.tableName}: ${(e as Error).message}`);
      throw e;
    }
    if (!item) return undefined;
    const s = (k: string) => item?.[k]?.S;
    return parseRecord(
      { execution: s('execution'), module: s('module'), account: s('account'), commit: s('commit'), sha256: s('sha256'), recordedAt: s('recordedAt') },
      `${this.tableName}[${execution}, ${module}]`,
    );
  }
}

/**
 * The store named by a policy's `planRecords`: `dynamodb://<table>` or `file:///<dir>`.
 * @param dynamo the client for `dynamodb://` (created with defaults when omitted: the task role, the task's region)
 */
export function planRecordStoreFromUri(uri: string, dynamo?: DynamoDBClient, now?: () => Date): PlanRecordStore {
  if (uri.startsWith('dynamodb://')) return new DynamoPlanRecordStore(dynamo ?? new DynamoDBClient({}), uri.slice('dynamodb://'.length), now);
  if (uri.startsWith('file://')) return new FolderPlanRecordStore(fileURLToPath(uri));
  throw new Error(`unsupported plan records location ${uri}; expected dynamodb://<table> or file:///<dir>`);
}
