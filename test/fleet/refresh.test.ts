/**
 * The fleet refresh through the pipeline function, over a real fleet file and dynalite: what the
 * schedule does in AWS, with the fleet file standing in for Organizations.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { fleetFileReader } from '../../lib/fleet/fleet-file';
import { InvalidRequestError } from '../../lib/pipeline/errors';
import { runConfig } from '../../lib/pipeline/fleet';
import { silentPipelineLogger } from '../../lib/pipeline/deps';
import { createPipelineHandler, type PipelineDeps } from '../../lib/pipeline/handler';
import type { RunStore } from '../../lib/store';
import { testConfig } from '../fixtures/pipeline/config';
import { startDynalite, type DynaliteTable } from '../fixtures/pipeline/dynalite';

const NETWORK = { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] };
let db: DynaliteTable;
let store: RunStore;
let file: string;

function organization(accounts: { Id: string; ParentId: string }[]): string {
  return stringify({
    Roots: [{ Id: 'r-ab12' }],
    OrganizationalUnits: [
      { Id: 'ou-ab12-11111111', Name: 'dev', ParentId: 'r-ab12' },
      { Id: 'ou-ab12-22222222', Name: 'prod', ParentId: 'r-ab12' },
    ],
    Accounts: accounts.map((a) => ({ ...a, Name: `account ${a.Id}` })),
  });
}

const config = testConfig({
  fleet: {
    organizations: { id: 'o-a1b2c3d4e5', roleArn: 'arn:aws:iam::555555555555:role/tfstep-organizations-read' },
    ous: [
      { path: '/dev', stage: 'dev', region: 'us-east-1', network: NETWORK },
      { path: '/prod', stage: 'prod', region: 'eu-west-1', network: NETWORK },
    ],
  },
});

/** A pipeline function whose only outside world is the run table and the fleet file. */
function handler(withOrganizations = true) {
  const unused = () => {
    throw new Error('not used by the fleet refresh');
  };
  const deps: PipelineDeps = {
    config,
    store,
    artifacts: { bucket: 'unused', put: unused, get: unused },
    repoReader: unused,
    executions: { isRunning: unused },
    tasks: { sendSuccess: unused },
    notifier: { publish: unused },
    clock: () => new Date('2026-11-20T12:00:00.000Z'),
    logger: silentPipelineLogger,
    ...(withOrganizations ? { organizations: { from: 'file', reader: () => fleetFileReader(file) } } : {}),
  };
  return createPipelineHandler(deps);
}

beforeAll(async () => {
  db = await startDynalite();
});
afterAll(async () => db.close());
beforeEach(async () => {
  store = await db.freshStore();
  file = join(mkdtempSync(join(tmpdir(), 'tfstep-fleet-')), 'organization.yaml');
});

describe('the fleet-refresh action', () => {
  it('writes one registry item per account, and the next run plans with them beside the listed accounts', async () => {
    // GIVEN two accounts in /dev, one in /prod, and one (the listed "prod" account 444444444444) listed explicitly
    writeFileSync(
      file,
      organization([
        { Id: '600000000001', ParentId: 'ou-ab12-11111111' },
        { Id: '600000000002', ParentId: 'ou-ab12-11111111' },
        { Id: '600000000003', ParentId: 'ou-ab12-22222222' },
        { Id: '444444444444', ParentId: 'ou-ab12-11111111' },
      ]),
    );
    // WHEN the schedule's payload reaches the pipeline function
    const summary = await handler()({ action: 'fleet-refresh' });
    // THEN three fleet accounts are registered; the listed one keeps its own entry
    expect(summary).toEqual({ refreshedAt: '2026-11-20T12:00:00.000Z', from: 'file', active: 3, added: 3, moved: 0, left: 0 });
    expect((await store.fleet.list()).map((r) => [r.name, r.stage, r.region])).toEqual([
      ['acct-600000000001', 'dev', 'us-east-1'],
      ['acct-600000000002', 'dev', 'us-east-1'],
      ['acct-600000000003', 'prod', 'eu-west-1'],
    ]);
    const planned = await runConfig(config, store);
    expect(planned.accounts.map((a) => `${a.name}:${a.stage}`)).toEqual(['dev:dev', 'staging:stage', 'prod:prod', 'acct-600000000001:dev', 'acct-600000000002:dev', 'acct-600000000003:prod']);

    // GIVEN an account moved from /dev to /prod, and one gone from the organization
    writeFileSync(file, organization([{ Id: '600000000001', ParentId: 'ou-ab12-22222222' }, { Id: '600000000003', ParentId: 'ou-ab12-22222222' }]));
    // WHEN refreshed again
    expect(await handler()({ action: 'fleet-refresh' })).toMatchObject({ active: 2, added: 0, moved: 1, left: 1 });
    // THEN the moved account deploys in prod, the gone one is kept as left and deploys nowhere
    expect((await store.fleet.list()).map((r) => [r.name, r.stage, r.status, r.previousStage])).toEqual([
      ['acct-600000000001', 'prod', 'active', 'dev'],
      ['acct-600000000002', 'dev', 'left', undefined],
      ['acct-600000000003', 'prod', 'active', undefined],
    ]);
    expect((await runConfig(config, store)).accounts.map((a) => a.name)).not.toContain('acct-600000000002');
    expect(await store.fleet.lastRefresh()).toMatchObject({ active: 2, moved: 1, left: 1 });
  });

  it('leaves the registry as it was when the organization cannot be read', async () => {
    writeFileSync(file, organization([{ Id: '600000000001', ParentId: 'ou-ab12-11111111' }]));
    await handler()({ action: 'fleet-refresh' });
    // GIVEN a fleet file that lost the /prod OU a rule names
    writeFileSync(file, stringify({ Roots: [{ Id: 'r-ab12' }], OrganizationalUnits: [{ Id: 'ou-ab12-11111111', Name: 'dev', ParentId: 'r-ab12' }], Accounts: [] }));
    // WHEN refreshed THEN it fails naming the OU, and nothing is marked left
    await expect(handler()({ action: 'fleet-refresh' })).rejects.toThrow('no OU /prod in the organization: / has dev');
    expect((await store.fleet.list()).map((r) => r.status)).toEqual(['active']);
  });

  it('fails when the config has no organization to read', async () => {
    await expect(handler(false)({ action: 'fleet-refresh' })).rejects.toThrow(InvalidRequestError);
  });
});
