import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { ConfigError } from '../../lib/config/errors';
import { loadConfig, parseConfig, parseConfigText } from '../../lib/config/loader';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');

/** The example config as a plain object, to break one field at a time. */
function example(): Record<string, any> {
  return parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, any>;
}

function problemsOf(input: unknown): ConfigError {
  try {
    parseConfig(input, 'tfstep.yaml');
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('config loader', () => {
  it('loads the example config with defaults filled in', () => {
    // GIVEN the bundled example WHEN it is loaded
    const config = loadConfig(EXAMPLE);
    // THEN every account, stage and default is there
    expect(config.stageOrder).toEqual(['dev', 'stage', 'prod']);
    expect(config.accounts.map((a) => a.name)).toEqual(['dev', 'stage', 'prod']);
    expect(config.stages.prod!.approval).toMatchObject({ required: true, minApprovals: 1, allowSelfApproval: false });
    expect(config.stages.dev!.approval).toEqual({ required: false });
    expect(config.layout.accountRoot).toBe('{account}/{region}');
    expect(config.runner.tool).toBe('terraform');
  });

  const cases: [string, (c: Record<string, any>) => void, string, string][] = [
    ['a bad account id', (c) => (c.accounts[0].id = '12345'), 'accounts[0].id', '12-digit'],
    ['an account id given as a number', (c) => (c.accounts[1].id = 222222222222), 'accounts[1].id', 'string'],
    ['an unknown stage in the order', (c) => c.stageOrder.push('qa'), 'stageOrder[3]', '"qa" is unknown'],
    ['duplicate account names', (c) => (c.accounts[1].name = 'dev'), 'accounts[1].name', '"dev" is also accounts[0]'],
    ['approval on a stage that does not exist', (c) => (c.stages.prd = { approval: { required: true, approvers: ['a@example.com'] } }), 'stages.prd', 'also in stageOrder'],
    ['an account in an unknown stage', (c) => (c.accounts[2].stage = 'production'), 'accounts[2].stage', 'one of the stages in stageOrder (dev, stage, prod)'],
    ['more approvals required than approvers', (c) => (c.stages.prod.approval.minApprovals = 4), 'stages.prod.approval.minApprovals', 'only 3 approvers'],
    ['an approver that is not an email', (c) => (c.stages.prod.approval.approvers[0] = 'alice'), 'stages.prod.approval.approvers[0]', 'email'],
    ['an unknown runner tool', (c) => (c.runner.tool = 'pulumi'), 'runner.tool', '"terraform"'],
    ['a bad region', (c) => (c.accounts[0].region = 'useast1'), 'accounts[0].region', 'AWS region'],
    ['a misspelt key', (c) => (c.accounts[0].stag = 'dev'), 'accounts[0]', 'remove "stag"'],
    ['a stage listed twice in the order', (c) => c.stageOrder.push('dev'), 'stageOrder[3]', '"dev" is listed twice'],
    ['an unknown repository provider', (c) => (c.repositories[0].provider = 'bitbucket'), 'repositories[0].provider', '"github"'],
    ['a repository without clone URLs', (c) => (c.repositories[0].cloneUrls = []), 'repositories[0].cloneUrls', 'at least one clone URL'],
    ['a zero concurrency', (c) => (c.stages.dev.concurrency = 0), 'stages.dev.concurrency', '>=1'],
    ['a stage without accounts', (c) => ((c.stages.qa = {}), c.stageOrder.push('qa')), 'stages.qa', 'at least one account (or fleet rule) in stage "qa"'],
    ['an invalid Fargate cpu', (c) => (c.runner.cpu = 300), 'runner.cpu', '1024'],
    ['a layout without {account}', (c) => (c.layout.accountRoot = 'live/{region}'), 'layout.accountRoot', '{account}'],
    ['a bad subnet id', (c) => (c.accounts[0].network.subnetIds = ['subnet-xyz']), 'accounts[0].network.subnetIds[0]', 'subnet id'],
    ['the same account and region twice', (c) => (c.accounts[1].id = c.accounts[0].id), 'accounts[1].id', 'is also accounts[0]'],
    ['waves whose last wave is not 100%', (c) => (c.stages.prod.waves = [{ accounts: 1 }, { percent: 50 }]), 'stages.prod.waves[1]', 'the last wave {percent: 100}'],
    ['waves that shrink', (c) => (c.stages.prod.waves = [{ percent: 20 }, { percent: 10 }, { percent: 100 }]), 'stages.prod.waves[1].percent', 'a larger share than the wave before (20%)'],
    ['a wave of 0 accounts', (c) => (c.stages.prod.waves = [{ accounts: 0 }, { percent: 100 }]), 'stages.prod.waves[0].accounts', 'at least 1 account'],
    ['a wave with both accounts and percent', (c) => (c.stages.prod.waves = [{ accounts: 1, percent: 5 }, { percent: 100 }]), 'stages.prod.waves[0]', ''],
    ['a bake time without waves', (c) => (c.stages.prod.bakeMinutes = 30), 'stages.prod.bakeMinutes', 'the wait between waves'],
    ['a canary that is not in the stage', (c) => ((c.stages.prod.waves = [{ accounts: 1 }, { percent: 100 }]), (c.stages.prod.canaries = ['dev'])), 'stages.prod.canaries[0]', '"dev" is not one'],
    ['canaries without waves', (c) => (c.stages.prod.canaries = ['prod']), 'stages.prod.canaries', 'add waves'],
    ['more canaries than the first wave holds', (c) => ((c.accounts[1].stage = 'prod'), (c.stages.prod.waves = [{ accounts: 1 }, { percent: 100 }]), (c.stages.prod.canaries = ['prod', 'stage']), c.stageOrder.splice(1, 1), delete c.stages.stage), 'stages.prod.waves[0].accounts', 'at least 2 accounts in the first wave'],
    ['a failure budget of 100%', (c) => (c.stages.prod.toleratedFailures = { percent: 100 }), 'stages.prod.toleratedFailures.percent', 'less than 100'],
    ['a negative failure budget', (c) => (c.stages.prod.toleratedFailures = { count: -1 }), 'stages.prod.toleratedFailures.count', '0 or more'],
  ];

  it.each(cases)('fails when the config has %s', (_name, breakIt, path, expected) => {
    // GIVEN the example with one field broken
    const input = example();
    breakIt(input);
    // WHEN it is validated
    const error = problemsOf(input);
    // THEN the problem names the field and says what was expected
    const problem = error.problems.find((p) => p.path === path);
    expect(problem).toBeDefined();
    expect(`${problem!.expected} ${error.message}`).toContain(expected);
    expect(error.message).toContain(`tfstep.yaml`);
  });

  it('fails with every problem listed at once', () => {
    // GIVEN three independent mistakes
    const input = example();
    input.accounts[0].id = 'abc';
    input.stageOrder.push('qa');
    input.runner.tool = 'pulumi';
    // WHEN validated THEN all three are reported together, each with what was received
    const error = problemsOf(input);
    expect(error.problems.map((p) => p.path)).toEqual(expect.arrayContaining(['accounts[0].id', 'stageOrder[3]', 'runner.tool']));
    expect(error.problems.find((p) => p.path === 'accounts[0].id')!.received).toBe('"abc"');
    expect(error.message).toMatch(/3 problems|[4-9] problems/);
  });

  it('fails when the YAML itself is malformed, naming the line', () => {
    // GIVEN a YAML syntax error WHEN parsed THEN the line is named
    expect(() => parseConfigText('version: 1\naccounts: [\n  - bad', 'broken.yaml')).toThrow(/broken.yaml.*\n.*line \d+/);
  });

  it('fails when a key appears twice in the YAML', () => {
    expect(() => parseConfigText(stringify(example()) + 'version: 1\n', 'dup.yaml')).toThrow(ConfigError);
  });

  it('fails when the file does not exist, saying what was expected', () => {
    // GIVEN a path with no file
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-config-'));
    // WHEN loaded THEN the error says so
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/no such file.*expected a readable tfstep YAML config file/);
  });

  it('loads a config written by hand with only the required fields', () => {
    // GIVEN a minimal config
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-config-'));
    const file = join(dir, 'tfstep.yaml');
    writeFileSync(
      file,
      stringify({
        version: 1,
        central: { account: '999999999999', region: 'eu-west-1' },
        repositories: [{ provider: 'gitlab', fullName: 'group/sub/live', cloneUrls: ['git@gitlab.com:group/sub/live.git'] }],
        stageOrder: ['dev'],
        stages: { dev: {} },
        accounts: [{ name: 'dev', id: '111111111111', region: 'eu-west-1', stage: 'dev' }],
      }),
    );
    // WHEN loaded THEN defaults apply
    const config = loadConfig(file);
    expect(config.repositories[0]!.deployBranch).toBe('main');
    expect(config.stages.dev).toEqual({ concurrency: 10, approval: { required: false } });
    expect(config.runner.allowedSubcommands).toEqual(['init', 'plan', 'show', 'apply']);
  });
});
