import { ConfigError } from '../../lib/config/errors';
import { parseConfig } from '../../lib/config/loader';
import { deploymentProblems } from '../../lib/config/schema';
import { formatPath } from '../../lib/config/parse';

const NETWORK = { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] };

/** A config whose accounts all come from the fleet. */
function fleetOnly(fleet: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 1,
    central: { account: '111111111111', region: 'us-east-1' },
    repositories: [{ provider: 'github', fullName: 'acme/live', cloneUrls: ['https://github.com/acme/live.git'] }],
    stageOrder: ['dev', 'prod'],
    stages: { dev: {}, prod: {} },
    fleet: {
      organizations: { id: 'o-a1b2c3d4e5', roleArn: 'arn:aws:iam::555555555555:role/tfstep-organizations-read' },
      ous: [
        { path: '/workloads/dev', stage: 'dev', region: 'us-east-1', network: NETWORK },
        { id: 'ou-ab12-22222222', stage: 'prod', region: 'eu-west-1', network: NETWORK, root: 'baseline/{region}' },
      ],
      ...fleet,
    },
    ...extra,
  };
}

function problems(input: unknown): { path: string; expected: string }[] {
  try {
    parseConfig(input, 'tfstep.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => ({ path: p.path, expected: p.expected }));
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('fleet config', () => {
  it('accepts a config whose stages are filled by fleet rules alone, with every default', () => {
    const config = parseConfig(fleetOnly({}));
    expect(config.accounts).toEqual([]);
    expect(config.fleet).toMatchObject({ organizations: { refreshMinutes: 60 }, tags: [] });
    expect(deploymentProblems(config)).toEqual([]);
  });

  it.each([
    ['an OU rule naming an unknown stage', { ous: [{ path: '/a', stage: 'qa', region: 'us-east-1' }] }, 'fleet.ous[0].stage', '"qa" is unknown'],
    ['an OU rule without path or id', { ous: [{ stage: 'dev', region: 'us-east-1' }] }, 'fleet.ous[0]', 'an OU named by path'],
    ['an OU path without a leading "/"', { ous: [{ path: 'workloads', stage: 'dev', region: 'us-east-1' }] }, 'fleet.ous[0].path', 'an OU path from the root'],
    ['the same OU twice', { ous: [{ path: '/a', stage: 'dev', region: 'us-east-1' }, { path: '/a', stage: 'prod', region: 'us-east-1' }] }, 'fleet.ous[1].path', 'each OU once'],
    ['no rules at all', { ous: [], tags: [] }, 'fleet', 'at least one rule'],
    ['nowhere to read the fleet', { organizations: undefined }, 'fleet', 'fleet.organizations (AWS Organizations) and/or fleet.file'],
    ['a bad organization id', { organizations: { id: 'org-1', roleArn: 'arn:aws:iam::555555555555:role/r' } }, 'fleet.organizations.id', 'o-a1b2c3d4e5'],
  ])('refuses %s, saying what was expected', (_name, fleet, path, expected) => {
    const found = problems(fleetOnly(fleet as Record<string, unknown>));
    expect(found).toEqual(expect.arrayContaining([{ path, expected: expect.stringContaining(expected) as string }]));
  });

  it('refuses a config with neither accounts nor a fleet', () => {
    const input = fleetOnly({});
    delete input.fleet;
    expect(problems(input)).toEqual(expect.arrayContaining([{ path: 'accounts', expected: 'at least one account, or a fleet section (docs/fleet.md)' }]));
  });

  it('lists what AWS needs: the Organizations role, a network per rule, OU ids for a StackSet', () => {
    const config = parseConfig(
      fleetOnly({
        organizations: undefined,
        file: 'fleet.yaml',
        ous: [{ path: '/workloads/dev', stage: 'dev', region: 'us-east-1' }],
        tags: [{ tag: { key: 'tfstep:stage', value: 'prod' }, stage: 'prod', region: 'us-east-1', network: NETWORK }],
        stackSet: { account: '555555555555' },
      }),
    );
    expect(deploymentProblems(config).map((p) => formatPath(p.path))).toEqual(['fleet.organizations', 'fleet.ous[0].network', 'fleet.ous[0].id']);
  });

  it('refuses the central account as the Organizations reader unless it is where the StackSet lives', () => {
    const config = parseConfig(fleetOnly({ organizations: { id: 'o-a1b2c3d4e5', roleArn: 'arn:aws:iam::111111111111:role/read-org' } }));
    expect(deploymentProblems(config).map((p) => p.message)).toEqual([expect.stringContaining('a role in the management account or a delegated administrator; 111111111111 is the central account')]);
  });
});
