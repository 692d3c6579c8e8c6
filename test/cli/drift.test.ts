/**
 * `tfstep drift --local`: the drift report read from the local state directory, as text and JSON,
 * with exit code 1 while something drifted. The report lines are written through the store as a
 * sweep's finish step writes them.
 */
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openLocalStore } from '../../lib/local/engine/store';
import { RunStore } from '../../lib/store/run-store';
import { runCli } from './run-cli';

const CONFIG = path.join(__dirname, '..', 'fixtures', 'local', 'two-dev-accounts.yaml');
const SHA = 'c'.repeat(40);

describe('tfstep drift --local', () => {
  let stateDir: string;
  beforeAll(async () => {
    stateDir = mkdtempSync(path.join(os.tmpdir(), 'tfstep-drift-cli-'));
    const local = await openLocalStore(stateDir);
    try {
      const store = new RunStore(local.docClient, local.tableName);
      const base = { repository: 'acme/live', commit: SHA, sweep: 'drift-1', checkedAt: '2026-01-02T00:00:00.000Z' };
      await store.planOnly.putDrift([
        { ...base, account: 'dev-a', module: 'dev-a/us-east-1/app', status: 'clean' },
        {
          ...base,
          account: 'dev-b',
          module: 'dev-b/us-east-1/app',
          status: 'drifted',
          changes: [{ address: 'aws_s3_bucket.logs', action: 'delete' }, { address: 'terraform_data.app', action: 'update' }],
          firstSeen: '2026-01-01T00:00:00.000Z',
          lastSeen: '2026-01-02T00:00:00.000Z',
        },
        { ...base, account: 'prod', module: 'prod/us-east-1/app', status: 'skipped', skippedBecause: 'a deploy (run-9) holds branch main' },
      ]);
      await store.planOnly.putLastSweep({ sweep: 'drift-1', at: '2026-01-02T00:00:00.000Z', counts: { clean: 1, drifted: 1, error: 0, skipped: 1 }, events: 1 });
    } finally {
      await local.close();
    }
  });

  it('prints each target that is not clean with its resources, and exits 1 while something drifted', async () => {
    const res = await runCli(['drift', '--local', '--state-dir', stateDir, '--config', CONFIG]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('1 drifted, 0 error, 1 skipped, 1 clean');
    expect(res.stdout).toContain('DRIFTED dev-b dev-b/us-east-1/app (acme/live) at ccccccc: first seen 2026-01-01T00:00:00.000Z');
    expect(res.stdout).toContain('    delete aws_s3_bucket.logs\n    update terraform_data.app');
    expect(res.stdout).toContain('SKIPPED prod prod/us-east-1/app (acme/live) at ccccccc: a deploy (run-9) holds branch main');
  });

  it('shows one account as JSON, and exits 0 when it is clean', async () => {
    const res = await runCli(['drift', '--local', '--state-dir', stateDir, '--config', CONFIG, '--account', 'dev-a', '--json']);
    expect(res.code).toBe(0);
    const report = JSON.parse(res.stdout) as { counts: Record<string, number>; targets: { account: string; status: string }[]; lastSweep: { sweep: string } };
    expect(report.counts).toEqual({ clean: 1, drifted: 0, error: 0, skipped: 0 });
    expect(report.targets.map((t) => [t.account, t.status])).toEqual([['dev-a', 'clean']]);
    expect(report.lastSweep.sweep).toBe('drift-1');
  });
});
