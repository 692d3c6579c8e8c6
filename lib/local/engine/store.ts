/**
 * The local run table: dynalite in this process, persisted with leveldb under
 * `<state dir>/dynamodb`, listening on 127.0.0.1 at a random port. Runs, queues and
 * last-applied commits survive between invocations.
 *
 * leveldb allows one process per database, and a second opener would crash, so the owner writes
 * `<state dir>/dynamodb.lock` with its pid and port. A second tfstep process (say `tfstep
 * approve --local` while `tfstep local run` waits for an approval) finds a live owner there and
 * talks to its endpoint instead of opening the files.
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import type { Server } from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';
import { DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { names } from '../../domain/names';
import { createRunTable } from '../../store/run-store';
import { StateDirLockedError } from './errors';
import { processAlive } from './orphans';

/** The default state directory, relative to the current directory. */
export const DEFAULT_STATE_DIR = '.tfstep';

/** An open local run table. */
export interface LocalStore {
  client: DynamoDBClient;
  docClient: DynamoDBDocumentClient;
  tableName: string;
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** Whether this process serves the table (false: it uses another process's server). */
  owner: boolean;
  /** Closes the clients, and the server and its files when this process owns them. */
  close(): Promise<void>;
}

/** Servers this process owns, by lock file: a second open in the same process shares one. */
const owned = new Map<string, { endpoint: string; users: number; shutdown: () => Promise<void> }>();

/**
 * Opens in progress in this process, by lock file. Opens of one state directory take turns:
 * without that, a second open arriving while the first starts its server finds this process's
 * own pid in the lock, takes the lock for stale and starts a second server on the same files.
 */
const opening = new Map<string, Promise<void>>();

interface LockInfo {
  pid: number;
  port?: number;
}

function readLock(file: string): LockInfo | undefined {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    return typeof info.pid === 'number' ? info : undefined;
  } catch {
    return undefined;
  }
}

function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

function clients(endpoint: string): {
  client: DynamoDBClient;
  docClient: DynamoDBDocumentClient;
} {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    // dynalite checks that requests are signed, not by whom.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
  });
  return {
    client,
    docClient: DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    }),
  };
}

/**
 * Opens the state directory's run table, creating the directory and the table when missing.
 * @throws StateDirLockedError when another live process holds the files but serves no endpoint
 */
export async function openLocalStore(stateDir: string, options: { tableName?: string } = {}): Promise<LocalStore> {
  const dir = path.resolve(stateDir);
  mkdirSync(dir, { recursive: true });
  const tableName = options.tableName ?? names.runTable();
  const lockFile = path.join(dir, 'dynamodb.lock');

  const before = opening.get(lockFile) ?? Promise.resolve();
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const turn = before.then(() => finished);
  opening.set(lockFile, turn);
  await before;
  try {
    return await openInTurn(dir, lockFile, tableName);
  } finally {
    done();
    if (opening.get(lockFile) === turn) opening.delete(lockFile);
  }
}

async function openInTurn(dir: string, lockFile: string, tableName: string): Promise<LocalStore> {
  const mine = owned.get(lockFile);
  if (mine) {
    // Opened twice in one process: share the server, close it with its last user.
    mine.users += 1;
    const c = clients(mine.endpoint);
    let closed = false;
    return {
      ...c,
      tableName,
      endpoint: mine.endpoint,
      owner: false,
      close: async () => {
        if (closed) return;
        closed = true;
        c.client.destroy();
        await release(lockFile);
      },
    };
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    const lock = readLock(lockFile);
    if (lock && lock.pid !== process.pid && processAlive(lock.pid)) {
      if (lock.port !== undefined && (await reachable(lock.port))) {
        const endpoint = `http://127.0.0.1:${lock.port}`;
        const c = clients(endpoint);
        return {
          ...c,
          tableName,
          endpoint,
          owner: false,
          close: () => Promise.resolve(c.client.destroy()),
        };
      }
      // The owner is starting up (no port yet): give it a moment before calling it stuck.
      if (attempt < 49) {
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      throw new StateDirLockedError(dir, lock.pid);
    }
    if (lock || existsSync(lockFile)) rmSync(lockFile, { force: true });
    let fd: number;
    try {
      fd = openSync(lockFile, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    writeSync(fd, JSON.stringify({ pid: process.pid }));
    closeSync(fd);
    try {
      return await serve(dir, lockFile, tableName);
    } catch (e) {
      rmSync(lockFile, { force: true });
      throw e;
    }
  }
  throw new StateDirLockedError(dir, readLock(lockFile)?.pid ?? 0);
}

async function serve(dir: string, lockFile: string, tableName: string): Promise<LocalStore> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require('dynalite') as (opts: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;
  const server = dynalite({
    path: path.join(dir, 'dynamodb'),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const endpoint = `http://127.0.0.1:${port}`;
  // Rewritten in place: the file exists since the exclusive create above.
  const fd = openSync(lockFile, 'w', 0o600);
  writeSync(fd, JSON.stringify({ pid: process.pid, port }));
  closeSync(fd);
  const c = clients(endpoint);
  try {
    if (!(await tableExists(c.client, tableName))) await createRunTable(c.client, tableName);
  } catch (e) {
    c.client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    throw e;
  }
  let closed = false;
  const entry = { endpoint, users: 1, shutdown: (): Promise<void> => Promise.resolve() };
  owned.set(lockFile, entry);
  entry.shutdown = async () => {
    owned.delete(lockFile);
    (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise<void>((r) => server.close(() => r()));
    const lock = readLock(lockFile);
    if (lock?.pid === process.pid) rmSync(lockFile, { force: true });
  };
  return {
    ...c,
    tableName,
    endpoint,
    owner: true,
    close: async () => {
      if (closed) return;
      closed = true;
      c.client.destroy();
      await release(lockFile);
    },
  };
}

async function release(lockFile: string): Promise<void> {
  const entry = owned.get(lockFile);
  if (!entry) return;
  entry.users -= 1;
  if (entry.users <= 0) await entry.shutdown();
}

async function tableExists(client: DynamoDBClient, tableName: string): Promise<boolean> {
  try {
    const res = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return res.Table?.TableStatus === 'ACTIVE';
  } catch (e) {
    if ((e as { name?: string }).name === 'ResourceNotFoundException') return false;
    throw e;
  }
}
