import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DeleteCommand, DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { FunctionArtifactReader } from '../../lib/approval/artifacts';
import type { ApprovalHttpDeps, ApprovalHttpRequest } from '../../lib/approval/http';
import { MemoryApprovalNotifier } from '../../lib/approval/notifier';
import { createApprovalRequestHandler, type ApprovalRequestDeps } from '../../lib/approval/request';
import { StaticKeyProvider } from '../../lib/approval/signing';
import { ApprovalStore } from '../../lib/approval/store';
import { SfnTaskTokenSender } from '../../lib/approval/task-token';
import type { Clock, Logger } from '../../lib/approval/types';
import { artifactKeys } from '../../lib/domain/runner-contract';

const FIXTURES = join(__dirname, '..', 'fixtures', 'approval');

/** Reads a fixture file of test/fixtures/approval. */
export function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** The item lists the fixture request points to, by key, as the plan gate wrote them to S3. */
export const ITEM_LISTS: Readonly<Record<string, string>> = {
  'run-2f1c9e0/_stages/2/accounts.json': fixture('accounts-prod.json'),
  'run-2f1c9e0/_stages/2/apply.json': fixture('apply-items-prod.json'),
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The approval request the state machine sends, as a fresh object; its item locations carry the lists' real SHA-256. */
export function requestFixture(): Record<string, unknown> & { taskToken: string; executionName: string } {
  const request = JSON.parse(fixture('request-prod.json')) as Record<string, unknown> & { taskToken: string; executionName: string };
  const stage = request.stage as { accounts: { key: string; sha256: string }; phase: { items: { key: string; sha256: string } } };
  for (const location of [stage.accounts, stage.phase.items, request.applyItems as { key: string; sha256: string }]) {
    location.sha256 = sha256(ITEM_LISTS[location.key]!);
  }
  return request;
}

export const SIGNING_KEY = 'test-signing-key-0123456789abcdef';
export const TABLE = 'tfstep-runs';

/** A dynalite server with the run table (string keys pk/sk). */
export interface Dynalite {
  readonly doc: DynamoDBDocumentClient;
  readonly client: DynamoDBClient;
  readonly endpoint: string;
  close(): Promise<void>;
}

/** Starts dynalite on loopback and creates the run table. */
export async function startDynalite(): Promise<Dynalite> {
  const server = require('dynalite')({ createTableMs: 0 }) as import('node:net').Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return {
    doc: DynamoDBDocumentClient.from(client),
    client,
    endpoint,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Every item of the table, sorted, for before/after comparisons. */
export async function scanTable(doc: DynamoDBDocumentClient): Promise<Record<string, unknown>[]> {
  const out = await doc.send(new ScanCommand({ TableName: TABLE, ConsistentRead: true }));
  return (out.Items ?? []).sort((a, b) => `${String(a.pk)}|${String(a.sk)}`.localeCompare(`${String(b.pk)}|${String(b.sk)}`));
}

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  constructor(private current: Date = new Date('2026-11-26T10:00:00.000Z')) {}
  now(): Date {
    return new Date(this.current);
  }
  set(date: Date): void {
    this.current = new Date(date);
  }
  advance(seconds: number): void {
    this.current = new Date(this.current.getTime() + seconds * 1000);
  }
}

/** Everything a test needs around one store. */
export interface Harness {
  readonly store: ApprovalStore;
  readonly clock: ManualClock;
  readonly notifier: MemoryApprovalNotifier;
  readonly requestDeps: ApprovalRequestDeps;
  readonly httpDeps: ApprovalHttpDeps;
  readonly sfn: SFNClient;
}

export const BASE_URL = 'https://approvals.example.com';

/** Deps over a dynalite table, a memory notifier, the fixture summaries and a (mocked) SFN client. */
export function harness(db: Dynalite, overrides: Partial<ApprovalHttpDeps> = {}): Harness {
  const store = new ApprovalStore(db.doc, TABLE);
  const clock = new ManualClock();
  const notifier = new MemoryApprovalNotifier();
  const keys = new StaticKeyProvider(SIGNING_KEY);
  const objects: Record<string, string> = {
    ...ITEM_LISTS,
    [artifactKeys.summary('run-2f1c9e0', 'prod', 'prod/us-east-1/network')]: fixture('summary-network.json'),
    [artifactKeys.summary('run-2f1c9e0', 'prod', 'prod/us-east-1/app')]: fixture('summary-app.json'),
  };
  const sfn = new SFNClient({ region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  return {
    store,
    clock,
    notifier,
    sfn,
    requestDeps: { store, keys, notifier, baseUrl: BASE_URL, clock, artifacts: new FunctionArtifactReader((key) => Promise.resolve(objects[key])) },
    httpDeps: { store, keys, tasks: new SfnTaskTokenSender(sfn), clock, baseUrl: BASE_URL, ...overrides },
  };
}

/** Runs the request handler on the fixture and returns the approval id and each approver's link. */
export async function requestApproval(
  h: Harness,
  patch: (request: ReturnType<typeof requestFixture>) => void = () => undefined,
): Promise<{ approvalId: string; links: Map<string, URL> }> {
  const request = requestFixture();
  patch(request);
  const before = h.notifier.notices.length;
  const result = await createApprovalRequestHandler(h.requestDeps)(request);
  const links = new Map<string, URL>();
  for (const notice of h.notifier.notices.slice(before)) {
    const line = notice.text.split('\n').find((l) => l.startsWith(h.requestDeps.baseUrl as string));
    if (line) links.set(notice.approver, new URL(line));
  }
  return { approvalId: result.approvalId, links };
}

/** A GET of a link, as the function URL passes it. */
export function getRequest(link: URL, headers: Record<string, string> = {}): ApprovalHttpRequest {
  return { method: 'GET', path: link.pathname, query: Object.fromEntries(link.searchParams), headers: { host: link.host, ...headers } };
}

/** A form POST to a link, as a browser on the page sends it. */
export function postRequest(link: URL, form: Record<string, string>, headers: Record<string, string> = {}): ApprovalHttpRequest {
  return {
    method: 'POST',
    path: link.pathname,
    query: Object.fromEntries(link.searchParams),
    headers: { host: link.host, 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': 'same-origin', origin: link.origin, ...headers },
    body: new URLSearchParams(form).toString(),
  };
}

/** The CSRF token in a rendered page. */
export function csrfFrom(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('the page has no CSRF field');
  return m[1];
}

/** Deletes every item, so each test starts from an empty table. */
export async function clearTable(doc: DynamoDBDocumentClient): Promise<void> {
  for (const item of await scanTable(doc)) {
    await doc.send(new DeleteCommand({ TableName: TABLE, Key: { pk: item.pk, sk: item.sk } }));
  }
}

/** A logger that keeps its entries, to check what was (not) logged. */
export function captureLogger(): Logger & { entries: { level: string; message: string; fields: unknown }[] } {
  const entries: { level: string; message: string; fields: unknown }[] = [];
  return {
    entries,
    info: (message, fields) => entries.push({ level: 'info', message, fields }),
    warn: (message, fields) => entries.push({ level: 'warn', message, fields }),
    error: (message, fields) => entries.push({ level: 'error', message, fields }),
  };
}
