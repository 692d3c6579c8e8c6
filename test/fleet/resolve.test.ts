/**
 * Fleet resolution over AWS Organizations. The Organizations API cannot run here, so its client is
 * a test double (aws-sdk-client-mock) answering like the service: paged, sometimes throttled.
 */
import {
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListOrganizationalUnitsForParentCommand,
  ListRootsCommand,
  ListTagsForResourceCommand,
  OrganizationsClient,
  TooManyRequestsException,
  type AccountState,
  DescribeOrganizationalUnitCommand,
  ListParentsCommand,
} from '@aws-sdk/client-organizations';
import { mockClient } from 'aws-sdk-client-mock';
import { FleetError } from '../../lib/fleet/errors';
import { awsOrganizationsReader, retryThrottled } from '../../lib/fleet/organizations';
import { registryChanges, type FleetRecord } from '../../lib/fleet/registry';
import { fleetAccountName, resolveFleet } from '../../lib/fleet/resolve';
import { readOrganization } from '../../lib/fleet/walk';
import { testConfig } from '../fixtures/pipeline/config';

const org = mockClient(OrganizationsClient);
const NETWORK = { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] };
const ROOT = 'r-ab12';
const WORKLOADS = 'ou-ab12-11111111';
const PROD = 'ou-ab12-22222222';
const TEAM = 'ou-ab12-33333333';
const DEV = 'ou-ab12-44444444';

function fleetConfig(fleet: Record<string, unknown>) {
  return testConfig({ fleet: { organizations: { id: 'o-a1b2c3d4e5', roleArn: 'arn:aws:iam::555555555555:role/tfstep-organizations' }, ...fleet } });
}

const noSleep = { sleep: () => Promise.resolve(), random: () => 0 };

/** The organization: /workloads/prod/team-a and /workloads/dev. */
function organization(accounts: Record<string, { Id: string; Name: string; State?: AccountState }[]>) {
  org.on(ListRootsCommand).resolves({ Roots: [{ Id: ROOT, Name: 'Root' }] });
  const ous: Record<string, { Id: string; Name: string }[]> = {
    [ROOT]: [{ Id: WORKLOADS, Name: 'workloads' }],
    [WORKLOADS]: [
      { Id: PROD, Name: 'prod' },
      { Id: DEV, Name: 'dev' },
    ],
    [PROD]: [{ Id: TEAM, Name: 'team-a' }],
  };
  for (const parent of [ROOT, WORKLOADS, PROD, TEAM, DEV]) {
    org.on(ListOrganizationalUnitsForParentCommand, { ParentId: parent }).resolves({ OrganizationalUnits: ous[parent] ?? [] });
    org.on(ListAccountsForParentCommand, { ParentId: parent }).resolves({ Accounts: (accounts[parent] ?? []).map((a) => ({ State: 'ACTIVE' as const, ...a })) });
  }
}

beforeEach(() => org.reset());

describe('fleet resolution from AWS Organizations', () => {
  it('reads every page of a list, going on past an empty page that carries a NextToken', async () => {
    // GIVEN an OU whose accounts come in three pages, the middle one empty
    organization({});
    org
      .on(ListAccountsForParentCommand, { ParentId: DEV })
      .resolves({ Accounts: [{ Id: '600000000001', Name: 'one', State: 'ACTIVE' }], NextToken: 't1' })
      .on(ListAccountsForParentCommand, { ParentId: DEV, NextToken: 't1' })
      .resolves({ Accounts: [], NextToken: 't2' })
      .on(ListAccountsForParentCommand, { ParentId: DEV, NextToken: 't2' })
      .resolves({ Accounts: [{ Id: '600000000002', Name: 'two', State: 'ACTIVE' }] });
    const config = fleetConfig({ ous: [{ path: '/workloads/dev', stage: 'dev', region: 'eu-west-1', network: NETWORK }] });
    // WHEN the fleet is read and resolved
    const snapshot = await readOrganization(awsOrganizationsReader(new OrganizationsClient({ region: 'us-east-1' }), noSleep), config.fleet!);
    const fleet = resolveFleet(config, snapshot);
    // THEN both pages' accounts are there, named by id, with the OU's defaults
    expect(fleet.map((f) => f.account)).toEqual([
      { name: 'acct-600000000001', id: '600000000001', region: 'eu-west-1', stage: 'dev', network: { ...NETWORK, securityGroupIds: [], assignPublicIp: false } },
      { name: 'acct-600000000002', id: '600000000002', region: 'eu-west-1', stage: 'dev', network: { ...NETWORK, securityGroupIds: [], assignPublicIp: false } },
    ]);
    expect(fleet[0]!.source).toEqual({ kind: 'ou', ouPath: '/workloads/dev', ouId: DEV });
    expect(org.commandCalls(ListAccountsForParentCommand, { ParentId: DEV })).toHaveLength(3);
  });

  it('retries a call that Organizations throttles, then answers', async () => {
    // GIVEN ListRoots throttled twice before it answers
    organization({ [DEV]: [{ Id: '600000000001', Name: 'one' }] });
    const throttled = () => new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} });
    org.on(ListRootsCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({ Roots: [{ Id: ROOT, Name: 'Root' }] });
    const waits: number[] = [];
    const config = fleetConfig({ ous: [{ id: DEV, path: '/workloads/dev', stage: 'dev', region: 'us-east-1' }] });
    // WHEN the fleet is read
    const reader = awsOrganizationsReader(new OrganizationsClient({ region: 'us-east-1' }), { sleep: (ms) => (waits.push(ms), Promise.resolve()), random: () => 1 });
    const snapshot = await readOrganization(reader, config.fleet!);
    // THEN it waited twice, backing off, and got the account
    expect(waits).toEqual([250, 500]);
    expect(snapshot.accounts.map((a) => a.id)).toEqual(['600000000001']);
  });

  it('fails with a clear error when throttling does not stop', async () => {
    // GIVEN a call throttled every time
    const call = () => Promise.reject(new TooManyRequestsException({ message: 'Rate exceeded', $metadata: {} }));
    // WHEN it is retried THEN it gives up after the attempts, naming the cause
    const err = await retryThrottled(call, { ...noSleep, attempts: 3 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetError);
    expect((err as FleetError).message).toBe('AWS Organizations kept throttling after 3 attempts; the next refresh tries again');
  });

  it('does not retry errors other than throttling', async () => {
    let calls = 0;
    const call = () => (calls++, Promise.reject(Object.assign(new Error('denied'), { name: 'AccessDeniedException' })));
    await expect(retryThrottled(call, noSleep)).rejects.toThrow('denied');
    expect(calls).toBe(1);
  });

  it('takes the deepest OU rule, lets a tag rule win over OUs and an explicit account win over both', async () => {
    // GIVEN accounts in /workloads/prod and /workloads/prod/team-a, one tagged, one listed explicitly (444444444444 is "prod" in the config)
    organization({
      [PROD]: [
        { Id: '700000000001', Name: 'Shop Prod' },
        { Id: '444444444444', Name: 'listed' },
        { Id: '700000000009', Name: 'closing', State: 'SUSPENDED' as const },
      ],
      [TEAM]: [
        { Id: '700000000002', Name: 'team-a' },
        { Id: '700000000003', Name: 'canary' },
      ],
    });
    org.on(ListAccountsCommand).resolves({
      Accounts: ['700000000001', '444444444444', '700000000002', '700000000003'].map((Id) => ({ Id, Name: Id, State: 'ACTIVE' as const })),
    });
    org.on(ListTagsForResourceCommand).resolves({ Tags: [] });
    org.on(ListTagsForResourceCommand, { ResourceId: '700000000003' }).resolves({ Tags: [{ Key: 'tfstep:stage', Value: 'dev' }] });
    const config = fleetConfig({
      ous: [
        { path: '/workloads/prod', stage: 'prod', region: 'eu-west-1' },
        { path: '/workloads/prod/team-a', stage: 'stage', region: 'us-east-1' },
      ],
      tags: [{ tag: { key: 'tfstep:stage', value: 'dev' }, stage: 'dev', region: 'us-east-1' }],
    });
    // WHEN resolved
    const snapshot = await readOrganization(awsOrganizationsReader(new OrganizationsClient({ region: 'us-east-1' }), noSleep), config.fleet!);
    const fleet = resolveFleet(config, snapshot);
    // THEN each account has the stage of its most specific rule; the listed and the suspended accounts are not the fleet's
    expect(fleet.map((f) => [f.account.id, f.account.stage, f.source.kind])).toEqual([
      ['700000000001', 'prod', 'ou'],
      ['700000000002', 'stage', 'ou'],
      ['700000000003', 'dev', 'tag'],
    ]);
    expect(fleet[1]!.ouPath).toBe('/workloads/prod/team-a');
  });

  it('finds an OU given by id and refuses a path that names another OU', async () => {
    // GIVEN a rule by id only, and one whose path and id disagree
    organization({ [DEV]: [{ Id: '600000000001', Name: 'one' }] });
    org.on(DescribeOrganizationalUnitCommand, { OrganizationalUnitId: DEV }).resolves({ OrganizationalUnit: { Id: DEV, Name: 'dev' } });
    org.on(DescribeOrganizationalUnitCommand, { OrganizationalUnitId: WORKLOADS }).resolves({ OrganizationalUnit: { Id: WORKLOADS, Name: 'workloads' } });
    org.on(ListParentsCommand, { ChildId: DEV }).resolves({ Parents: [{ Id: WORKLOADS, Type: 'ORGANIZATIONAL_UNIT' }] });
    org.on(ListParentsCommand, { ChildId: WORKLOADS }).resolves({ Parents: [{ Id: ROOT, Type: 'ROOT' }] });
    const reader = awsOrganizationsReader(new OrganizationsClient({ region: 'us-east-1' }), noSleep);
    // WHEN read by id THEN its path is found
    const byId = await readOrganization(reader, fleetConfig({ ous: [{ id: DEV, stage: 'dev', region: 'us-east-1' }] }).fleet!);
    expect(byId.ous).toEqual([{ id: DEV, path: '/workloads/dev' }]);
    expect(byId.accounts[0]!.ou).toEqual({ ids: [ROOT, WORKLOADS, DEV], path: '/workloads/dev' });
    // WHEN path and id disagree THEN the refresh fails saying which
    await expect(readOrganization(reader, fleetConfig({ ous: [{ id: PROD, path: '/workloads/dev', stage: 'dev', region: 'us-east-1' }] }).fleet!)).rejects.toThrow(
      `fleet.ous: path /workloads/dev is OU ${DEV} in the organization, not ${PROD}`,
    );
  });

  it('fails naming the OUs there are when a path does not exist', async () => {
    organization({});
    const reader = awsOrganizationsReader(new OrganizationsClient({ region: 'us-east-1' }), noSleep);
    await expect(readOrganization(reader, fleetConfig({ ous: [{ path: '/workloads/qa', stage: 'dev', region: 'us-east-1' }] }).fleet!)).rejects.toThrow(
      'no OU /workloads/qa in the organization: /workloads has prod, dev',
    );
  });
});

describe('fleet registry changes', () => {
  const record = (id: string, stage: string, extra: Partial<FleetRecord> = {}): FleetRecord => ({
    id,
    name: fleetAccountName(id),
    stage,
    region: 'us-east-1',
    source: { kind: 'ou', ouPath: `/workloads/${stage}`, ouId: DEV },
    orgName: id,
    ouPath: `/workloads/${stage}`,
    status: 'active',
    firstSeenAt: '2026-11-01T00:00:00.000Z',
    changedAt: '2026-11-01T00:00:00.000Z',
    ...extra,
  });
  const resolved = (id: string, stage: string) => {
    const r = record(id, stage);
    return { account: { name: r.name, id, region: r.region, stage }, source: r.source, orgName: r.orgName, ouPath: r.ouPath };
  };
  const NOW = '2026-11-20T12:00:00.000Z';

  it('moves an account to the stage of its new OU, keeping the previous stage and its first sighting', () => {
    // GIVEN an account registered in dev, now found in prod
    const changes = registryChanges([record('600000000001', 'dev')], [resolved('600000000001', 'prod')], NOW);
    // THEN it is written once, moved
    expect(changes).toMatchObject({ moved: 1, added: 0, left: 0, active: 1 });
    expect(changes.put).toEqual([expect.objectContaining({ id: '600000000001', stage: 'prod', previousStage: 'dev', firstSeenAt: '2026-11-01T00:00:00.000Z', changedAt: NOW, status: 'active' })]);
  });

  it('marks an account that no rule matches any more as left instead of deleting it, once', () => {
    const first = registryChanges([record('600000000001', 'dev'), record('600000000002', 'dev')], [resolved('600000000002', 'dev')], NOW);
    expect(first.left).toBe(1);
    expect(first.put).toEqual([expect.objectContaining({ id: '600000000001', status: 'left', leftAt: NOW })]);
    // WHEN refreshed again THEN nothing more is written
    const again = registryChanges([first.put[0]!, record('600000000002', 'dev')], [resolved('600000000002', 'dev')], '2026-11-20T13:00:00.000Z');
    expect(again.put).toEqual([]);
  });

  it('writes nothing for an unchanged fleet and adds a new account', () => {
    const changes = registryChanges([record('600000000001', 'dev')], [resolved('600000000001', 'dev'), resolved('600000000002', 'dev')], NOW);
    expect(changes.put.map((r) => r.id)).toEqual(['600000000002']);
    expect(changes.added).toBe(1);
  });
});
