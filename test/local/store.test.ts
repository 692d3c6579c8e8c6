import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLocalStore } from '../../lib/local/engine/store';
import { RunStore } from '../../lib/store/run-store';

describe('openLocalStore', () => {
  it('shares one server between opens of one state directory that start at the same time', async () => {
    // GIVEN a fresh state directory
    const stateDir = mkdtempSync(join(tmpdir(), 'tfstep-store-'));
    // WHEN two opens in this process start together (a follower reopening while a writer opens)
    const [a, b, c] = await Promise.all([openLocalStore(stateDir), openLocalStore(stateDir), openLocalStore(stateDir)]);
    // THEN exactly one of them serves the files and the others use its endpoint
    expect([a, b, c].filter((s) => s.owner)).toHaveLength(1);
    expect(new Set([a.endpoint, b.endpoint, c.endpoint]).size).toBe(1);
    // AND a write through one is read through another
    await new RunStore(b.docClient, b.tableName).createRun({
      execution: 'x-1', executionId: 'x-1', repository: 'acme/x', branch: 'main', commit: 'a'.repeat(40), sequence: 's', status: 'RUNNING', startedAt: '2026-11-26T10:00:00Z', input: '{}',
    });
    expect((await new RunStore(c.docClient, c.tableName).getRun('x-1'))?.run.status).toBe('RUNNING');
    // AND the server lives until its last user closes, then lets go of the lock
    await a.close();
    await c.close();
    expect((await new RunStore(b.docClient, b.tableName).getRun('x-1'))?.run.execution).toBe('x-1');
    await b.close();
    expect(existsSync(join(stateDir, 'dynamodb.lock'))).toBe(false);
  });
});
