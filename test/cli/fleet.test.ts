import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { openLocalStore } from '../../lib/local/engine/store';
import { FleetOutputSchema } from '../../lib/operator/fleet';
import { RunStore } from '../../lib/store/run-store';
import { runCli } from './run-cli';

const FIXTURE = join(__dirname, '..', 'fixtures', 'local', 'fleet.yaml');

function organization(accounts: { Id: string; ParentId: string }[]): string {
  return stringify({
    Roots: [{ Id: 'r-ab12', Name: 'Root' }],
    OrganizationalUnits: [
      { Id: 'ou-ab12-11111111', Name: 'workloads', ParentId: 'r-ab12' },
      { Id: 'ou-ab12-22222222', Name: 'dev', ParentId: 'ou-ab12-11111111' },
      { Id: 'ou-ab12-33333333', Name: 'sandbox', ParentId: 'ou-ab12-11111111' },
    ],
    Accounts: accounts.map((a) => ({ ...a, Name: `team ${a.Id}`, State: 'ACTIVE' })),
  });
}

describe('tfstep fleet --local', () => {
  let dir: string;
  let config: string;
  let stateDir: string;
  let fleetFile: string;

  beforeAll(async () => {
    // GIVEN the fleet config and a fleet file with two accounts in /workloads/dev and one elsewhere
    dir = mkdtempSync(join(tmpdir(), 'tfstep-fleet-cli-'));
    config = join(dir, 'tfstep.yaml');
    copyFileSync(FIXTURE, config);
    fleetFile = join(dir, 'fleet-organization.yaml');
    writeFileSync(
      fleetFile,
      organization([
        { Id: '500000000001', ParentId: 'ou-ab12-22222222' },
        { Id: '500000000002', ParentId: 'ou-ab12-22222222' },
        { Id: '500000000003', ParentId: 'ou-ab12-33333333' },
      ]),
    );
    stateDir = join(dir, 'state');
    // AND a state directory where the listed account and one fleet account have applied modules
    const local = await openLocalStore(stateDir);
    try {
      const store = new RunStore(local.docClient, local.tableName);
      for (const account of ['dev-a', 'acct-500000000001']) {
        await store.outcomes.recordApplied({
          repository: 'acme/live',
          account,
          module: account === 'dev-a' ? 'dev-a/us-east-1/app' : 'baseline/us-east-1/app',
          commit: 'c'.repeat(40),
          sequence: `2026-11-20T10:00:00.000Z#${'c'.repeat(40)}`,
          execution: 'run-1',
        });
      }
    } finally {
      await local.close();
    }
  });

  it('refreshes the registry from the fleet file, then lists every account with its source and last applied commits', async () => {
    // WHEN the fleet is refreshed
    const refresh = await runCli(['fleet', 'refresh', '--local', '--state-dir', stateDir, '--config', config]);
    // THEN the two accounts of the OU are added; the sandbox account matches no rule
    expect(refresh.stderr).toBe('');
    expect(refresh.code).toBe(0);
    expect(refresh.stdout.trim()).toBe('fleet refreshed from file: 2 active, 2 added, 0 moved, 0 left');

    // WHEN listed as JSON
    const json = await runCli(['fleet', '--local', '--state-dir', stateDir, '--config', config, '--json']);
    expect(json.code).toBe(0);
    const parsed = FleetOutputSchema.parse(JSON.parse(json.stdout));
    // THEN the listed account comes first, then the fleet's, each with its source and applied modules
    expect(parsed.accounts.map((a) => [a.name, a.stage, a.source, a.matched, a.status, a.wave, a.applied.map((m) => `${m.module}@${m.commit.slice(0, 7)}`)])).toEqual([
      ['dev-a', 'dev', 'explicit', '', 'active', '1/1', ['dev-a/us-east-1/app@ccccccc']],
      ['acct-500000000001', 'dev', 'ou', '/workloads/dev', 'active', '1/1', ['baseline/us-east-1/app@ccccccc']],
      ['acct-500000000002', 'dev', 'ou', '/workloads/dev', 'active', '1/1', []],
    ]);
    expect(parsed.lastRefresh).toMatchObject({ from: 'file', active: 2, added: 2 });

    // WHEN an account leaves the OU and the fleet is refreshed and listed as a table
    writeFileSync(fleetFile, organization([{ Id: '500000000001', ParentId: 'ou-ab12-22222222' }, { Id: '500000000002', ParentId: 'ou-ab12-33333333' }]));
    expect((await runCli(['fleet', 'refresh', '--local', '--state-dir', stateDir, '--config', config])).stdout.trim()).toBe('fleet refreshed from file: 1 active, 0 added, 0 moved, 1 left');
    const text = await runCli(['fleet', '--local', '--state-dir', stateDir, '--config', config]);
    // THEN it is marked left, not gone
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ACCOUNT\s+ID\s+STAGE\s+WAVE\s+SOURCE\s+STATUS\s+LAST APPLIED$/);
    expect(lines[1]).toMatch(/^dev-a\s+111111111111\s+dev\s+1\/1\s+explicit\s+active\s+dev-a\/us-east-1\/app@ccccccc$/);
    expect(lines[2]).toMatch(/^acct-500000000001\s+500000000001\s+dev\s+1\/1\s+ou \/workloads\/dev\s+active\s+baseline\/us-east-1\/app@ccccccc$/);
    expect(lines[3]).toMatch(/^acct-500000000002\s+500000000002\s+dev\s+-\s+ou \/workloads\/dev\s+left\s+-$/);
  });

  it("shows each active account's wave when its stage rolls out in waves", async () => {
    // GIVEN the same fleet with dev rolled out in two waves: one account, then the rest
    const waved = join(dir, 'waved.yaml');
    const doc = parse(readFileSync(config, 'utf8')) as { stages: Record<string, Record<string, unknown>> };
    doc.stages.dev = { ...doc.stages.dev, waves: [{ accounts: 1 }, { percent: 100 }] };
    writeFileSync(waved, stringify(doc));
    writeFileSync(fleetFile, organization([{ Id: '500000000001', ParentId: 'ou-ab12-22222222' }, { Id: '500000000002', ParentId: 'ou-ab12-22222222' }]));
    await runCli(['fleet', 'refresh', '--local', '--state-dir', stateDir, '--config', waved]);
    // WHEN listed
    const res = await runCli(['fleet', '--local', '--state-dir', stateDir, '--config', waved, '--json']);
    // THEN one account is in the first of two waves, the other two in the second
    const waves = FleetOutputSchema.parse(JSON.parse(res.stdout)).accounts.map((a) => a.wave);
    expect(waves.filter((w) => w === '1/2')).toHaveLength(1);
    expect(waves.filter((w) => w === '2/2')).toHaveLength(2);
  });

  it('fails when the fleet file names a parent that does not exist, saying what was expected', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, organization([{ Id: '500000000009', ParentId: 'ou-ab12-99999999' }]));
    const res = await runCli(['fleet', 'refresh', '--local', '--state-dir', stateDir, '--config', config, '--fleet-file', bad]);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('500000000009 has ParentId ou-ab12-99999999; expected the id of the root or of an OU in the file');
  });
});
