import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SFNClient } from '@aws-sdk/client-sfn';
import { RecordOnlyTaskTokenSender, SfnTaskTokenSender } from '../../lib/approval/task-token';
import type { ApprovalView } from '../../lib/approval/types';
import { openLocalStore } from '../../lib/local/engine/store';
import { openBackend, parseProfileFor } from '../../lib/operator/backend';
import { BadOptionError, OperatorError } from '../../lib/operator/errors';
import { RunStore } from '../../lib/store/run-store';
import { seedRuns } from './seed';

const CONFIG = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');

describe('openBackend --local', () => {
  let stateDir: string;

  beforeAll(async () => {
    // GIVEN a local state directory holding runs written through the real stores
    stateDir = mkdtempSync(join(tmpdir(), 'tfstep-backend-'));
    const local = await openLocalStore(stateDir);
    try {
      await seedRuns(new RunStore(local.docClient, local.tableName));
    } finally {
      await local.close();
    }
  });
  afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

  it('reads the run records, runs and approvals of the state directory', async () => {
    // WHEN a backend is opened on it
    const backend = await openBackend({ local: true, stateDir, config: CONFIG });
    try {
      // THEN the records, the runs view and the approvals all read that table
      expect(backend.mode).toBe('local');
      expect((await backend.records.listRuns({ limit: 10 })).map((r) => r.execution).sort()).toEqual(['run-failed', 'run-ok', 'run-waiting']);
      expect((await backend.runs.showRun('run-waiting')).status).toBe('RUNNING');
      expect(await backend.approvals.listPointers('run-waiting')).toHaveLength(1);
      expect(backend.tasks).toBeInstanceOf(RecordOnlyTaskTokenSender);
    } finally {
      await backend.close();
    }
  });

  it('decides as the --as approver without asking AWS', async () => {
    const backend = await openBackend({ local: true, stateDir, decide: { as: 'alice@example.com' } });
    try {
      expect(await backend.approverFor({ approvers: ['alice@example.com'] } as unknown as ApprovalView)).toBe('alice@example.com');
      // a deciding command needs no config
      expect(backend.config).toBeUndefined();
    } finally {
      await backend.close();
    }
  });

  it('fails when a deciding command has no --as, saying what to pass', async () => {
    await expect(openBackend({ local: true, stateDir, decide: {} })).rejects.toThrow('with --local, pass --as EMAIL');
  });

  it('fails when the state directory does not exist, before asking for --as', async () => {
    const missing = join(stateDir, 'nope');
    await expect(openBackend({ local: true, stateDir: missing, decide: {} })).rejects.toThrow(`the state directory ${missing} does not exist`);
  });

  it('fails on replay and doctor, which need AWS', async () => {
    const backend = await openBackend({ local: true, stateDir, config: CONFIG });
    try {
      await expect(backend.replay('run-failed')).rejects.toThrow(/not available with --local/);
      await expect(backend.doctor()).rejects.toBeInstanceOf(OperatorError);
    } finally {
      await backend.close();
    }
  });
});

describe('openBackend in AWS', () => {
  it('fails when --as is given, before reading the config', async () => {
    await expect(openBackend({ config: '/does/not/exist.yaml', decide: { as: 'alice@example.com' } })).rejects.toThrow('--as is only for --local');
  });

  it('fails on a malformed --profile-for, naming the expected form', () => {
    expect(() => parseProfileFor(['dev'])).toThrow(BadOptionError);
    expect(() => parseProfileFor(['dev'])).toThrow('ACCOUNT=PROFILE');
    expect(parseProfileFor(['dev=dev-admin', '111111111111=ops'])).toEqual(
      new Map([
        ['dev', 'dev-admin'],
        ['111111111111', 'ops'],
      ]),
    );
  });

  it('makes its clients for the central region and destroys each one on close', async () => {
    // GIVEN spies on the SDK clients' destroy (no AWS call is made)
    const sfnDestroy = jest.spyOn(SFNClient.prototype, 'destroy');
    const dynamoDestroy = jest.spyOn(DynamoDBClient.prototype, 'destroy');
    try {
      // WHEN a backend is opened and closed
      const backend = await openBackend({ config: CONFIG, region: 'eu-west-1' });
      expect(backend.mode).toBe('aws');
      expect(backend.tasks).toBeInstanceOf(SfnTaskTokenSender);
      await backend.close();
      // THEN the one Step Functions client (runs view and task tokens share it) and the table's client are gone
      expect(sfnDestroy).toHaveBeenCalledTimes(1);
      expect(dynamoDestroy).toHaveBeenCalledTimes(1);
      expect(await (sfnDestroy.mock.contexts[0] as SFNClient).config.region()).toBe('eu-west-1');
    } finally {
      sfnDestroy.mockRestore();
      dynamoDestroy.mockRestore();
    }
  });
});
