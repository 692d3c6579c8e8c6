import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../lib/config/loader';
import { checkDefinition, ValidationReportSchema } from '../../lib/operator/validate';
import { PIPELINE_ASL_PATH } from '../../lib/statemachine/definition';
import { runCli } from './run-cli';

const EXAMPLE = join(__dirname, '..', '..', 'examples', 'tfstep.yaml');

function writeConfig(mutate: (cfg: any) => void): string {
  const cfg = parse(readFileSync(EXAMPLE, 'utf8'));
  mutate(cfg);
  const file = join(mkdtempSync(join(tmpdir(), 'tfstep-validate-')), 'tfstep.yaml');
  writeFileSync(file, stringify(cfg));
  return file;
}

describe('tfstep validate', () => {
  it('passes the example config, its allowlists and the shipped definition', async () => {
    // WHEN validate runs on the example
    const res = await runCli(['validate', '--config', EXAMPLE]);
    // THEN every area is ok and the exit code is 0
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^config {6}ok {2}1 repository, 3 stages, 3 accounts\ndeployment {2}ok {2}networks of 3 accounts, state settings of 0\nallowlists {2}ok {2}2 clone URLs, runner policies of dev, stage, prod\ndefinition {2}ok {2}statemachines\/pipeline\.asl\.json, \d+ states\n\nvalid\n$/);
  });

  it('fails when the config is invalid, listing every problem, and skips the allowlists', async () => {
    // GIVEN a config with a bad account id and an account in an unknown stage
    const file = writeConfig((cfg) => {
      cfg.accounts[0].id = '123';
      cfg.accounts[1].stage = 'qa';
    });
    const res = await runCli(['validate', '--config', file, '--json']);
    expect(res.code).toBe(1);
    const report = ValidationReportSchema.parse(JSON.parse(res.stdout));
    const config = report.sections.find((s) => s.name === 'config')!;
    expect(config.ok).toBe(false);
    expect(config.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/^accounts\[0\]\.id: got "123"; expected a 12-digit AWS account id/), expect.stringMatching(/^accounts\[1\]\.stage: got "qa"/)]),
    );
    expect(report.sections.find((s) => s.name === 'allowlists')!.problems).toEqual(['not checked: the config must be valid first']);
    expect(report.sections.find((s) => s.name === 'definition')!.ok).toBe(true);
  });

  it('fails when a clone URL is one the runner would refuse, or belongs to two repositories', async () => {
    // GIVEN a remote helper as a clone URL, and a second repository reusing the first one's URL
    const file = writeConfig((cfg) => {
      cfg.repositories[0].cloneUrls.push('ext::sh -c touch% ~/pwned');
      cfg.repositories.push({ provider: 'github', fullName: 'acme/other', cloneUrls: ['https://GitHub.com/acme/infrastructure-live'] });
    });
    // WHEN validated
    const res = await runCli(['validate', '--config', file]);
    // THEN the config itself fails, as it does for the CDK app and the local mode
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('config      FAILED');
    expect(res.stdout).toContain('  - repositories[0].cloneUrls[2]: got "ext::sh -c touch% ~/pwned"; expected a clone URL the runner accepts');
    expect(res.stdout).toContain('  - repositories[1].cloneUrls[0]: got "https://GitHub.com/acme/infrastructure-live"; expected a clone URL of one repository');
  });

  it("measures the fleet StackSet's runner policy of each stage, and fails the one with every stage's rules past 4 KB", async () => {
    // GIVEN two stages whose rules fit the 4 KB of a Standard SSM parameter alone but not together, and a fleet StackSet
    const file = writeConfig((cfg) => {
      const rules = (prefix: string) => ({ protect: [0, 1, 2, 3, 4].map((i) => ({ id: `${prefix}-${i}`, types: ['aws_db_instance'], message: 'x'.repeat(480) })) });
      cfg.stages.prod.policies = rules('a');
      cfg.stages.stage.policies = rules('b');
      cfg.policyOwners = ['dana@example.com'];
      cfg.fleet = {
        organizations: { id: 'o-a1b2c3d4e5', roleArn: 'arn:aws:iam::555555555555:role/tfstep-organizations-read' },
        ous: [{ id: 'ou-ab12-22222222', stage: 'prod', region: 'eu-west-1', network: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] } }],
        stackSet: { account: '555555555555' },
      };
    });
    // WHEN validated
    const res = await runCli(['validate', '--config', file, '--json']);
    // THEN the allowlists name each stage the StackSet template may be given, and fail the ALL policy only
    expect(res.code).toBe(1);
    const allowlists = ValidationReportSchema.parse(JSON.parse(res.stdout)).sections.find((s) => s.name === 'allowlists')!;
    expect(allowlists.summary).toContain("the fleet StackSet's for stages dev, stage, prod, ALL");
    expect(allowlists.problems).toEqual([
      expect.stringMatching(/^runner policy of the fleet's StackSet accounts of stage ALL \(every stage's rules\): \d+ bytes, over the 4096 bytes of an SSM parameter \(Standard tier\); shorten the plan policies of the stages/),
    ]);
  });

  it('fails an account without a network, and state settings the roles cannot serve', async () => {
    // GIVEN dev without network; stage with state but no lock, and a key in another region;
    // prod with a state role of its own account
    const file = writeConfig((cfg) => {
      delete cfg.accounts[0].network;
      cfg.accounts[1].state = { bucket: 'acme-tf-state', kmsKey: 'arn:aws:kms:eu-west-1:222222222222:key/1234abcd-12ab-34cd-56ef-1234567890ab' };
      cfg.accounts[2].state = { bucket: 'acme-tf-state', lockfile: true, roleArn: 'arn:aws:iam::333333333333:role/state' };
    });
    const res = await runCli(['validate', '--config', file, '--json']);
    expect(res.code).toBe(1);
    const report = ValidationReportSchema.parse(JSON.parse(res.stdout));
    const deployment = report.sections.find((s) => s.name === 'deployment')!;
    expect(deployment.problems).toEqual([
      'accounts[0].network: account dev has no network: ECS RunTask needs the subnets (and security groups) its runner tasks run in; add network.vpcId and network.subnetIds',
      'accounts[1].state.lockTable: account stage keeps its state without a lock: set lockTable (a DynamoDB table) or lockfile: true, so two runs can never write the state at once',
      "accounts[1].state.kmsKey: account stage: the state key is in eu-west-1 but the state bucket is in us-east-1; S3 encrypts with a key of the bucket's own region",
      'accounts[2].state.roleArn: account prod: roleArn is a role of the account itself (333333333333); it names a role in a separate state account. Drop it and the plan and apply roles are granted the state directly',
    ]);
    // the config itself is valid: the local mode needs neither
    expect(report.sections.find((s) => s.name === 'config')!.ok).toBe(true);
  });

  it('fails a state key given as an alias, or a key prefix with a wildcard', async () => {
    const file = writeConfig((cfg) => {
      cfg.accounts[0].state = { bucket: 'acme-tf-state', keyPrefix: 'live/*', lockfile: true, kmsKey: 'alias/tfstate' };
    });
    const res = await runCli(['validate', '--config', file, '--json']);
    const config = ValidationReportSchema.parse(JSON.parse(res.stdout)).sections.find((s) => s.name === 'config')!;
    expect(config.problems).toEqual([
      expect.stringMatching(/^accounts\[0\]\.state\.keyPrefix: got "live\/\*"; expected a key prefix of folders ending in "\/"/),
      expect.stringMatching(/^accounts\[0\]\.state\.kmsKey: got "alias\/tfstate"; expected a KMS key ARN .*\(not an alias\)/),
    ]);
  });

  it('fails when no config file can be found, saying what to pass', async () => {
    const res = await runCli(['validate', '--config', join(tmpdir(), 'does-not-exist.yaml')]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('got no such file; expected a readable tfstep YAML config file');
  });

  it('fails when the definition breaks a rule, naming it', () => {
    // GIVEN the shipped definition with a runner task that retries States.ALL
    const asl = JSON.parse(readFileSync(PIPELINE_ASL_PATH, 'utf8'));
    asl.States.Accounts.ItemProcessor.States.RunTerraform.Retry[0].ErrorEquals.push('States.ALL');
    const file = join(mkdtempSync(join(tmpdir(), 'tfstep-asl-')), 'pipeline.asl.json');
    writeFileSync(file, JSON.stringify(asl));
    // WHEN checked
    const { problems } = checkDefinition(loadConfig(EXAMPLE), 'aws', file);
    // THEN the rule is named
    expect(problems).toEqual([expect.stringContaining('task RunTerraform retries ECS.AmazonECSException')]);
    expect(problems[0]).toContain('a Terraform failure must never be retried');
  });

  it('fails when --partition is not a partition', async () => {
    const res = await runCli(['validate', '--config', EXAMPLE, '--partition', 'mars']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--partition: got "mars"');
  });
});

describe('tfstep validate --repo: module dependencies', () => {
  const LIVE = join(__dirname, '..', '..', 'examples', 'infrastructure-live');

  /** A working tree holding `files` (no git needed: validate reads what is on disk). */
  function treeWith(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-validate-repo-'));
    for (const [file, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      writeFileSync(join(dir, file), text);
    }
    return dir;
  }

  it("prints each account's graph of the example, each module after what it depends on", async () => {
    // WHEN validate runs on the example config and the example repository
    const res = await runCli(['validate', '--config', EXAMPLE, '--repo', LIVE]);
    // THEN it is valid, and each account's app comes after network, on which it depends
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/\ndependencies ok {2}6 modules of 3 accounts, 3 dependencies \(.*examples\/infrastructure-live\)\n/);
    expect(res.stdout).toContain(
      [
        'graph of dev (dev/us-east-1), each module after what it depends on:',
        '  network',
        '  app -> network',
        '',
        'graph of stage (stage/us-east-1), each module after what it depends on:',
        '  network',
        '  app -> network',
      ].join('\n'),
    );
    expect(res.stdout.endsWith('\nvalid\n')).toBe(true);
  });

  it('gives the graphs in --json', async () => {
    const res = await runCli(['validate', '--config', EXAMPLE, '--repo', LIVE, '--json']);
    const report = ValidationReportSchema.parse(JSON.parse(res.stdout));
    expect(report.graphs?.[2]).toEqual({
      account: 'prod',
      root: 'prod/us-east-1',
      order: ['prod/us-east-1/network', 'prod/us-east-1/app'],
      dependencies: { 'prod/us-east-1/app': ['prod/us-east-1/network'] },
    });
  });

  it('fails a cycle with its path, a dependency on no module and one on another account, exit code 1', async () => {
    // GIVEN rules where network and app depend on each other, app on a missing cache, and dev's db on stage's network
    const file = writeConfig((cfg) => {
      cfg.dependsOn = [
        { module: 'app', on: ['network', 'cache'] },
        { module: 'network', on: ['app'] },
        { module: '/dev/us-east-1/db', on: ['/stage/us-east-1/network'] },
      ];
    });
    const repo = treeWith({
      'dev/us-east-1/app/main.tf': '',
      'dev/us-east-1/network/main.tf': '',
      'dev/us-east-1/db/main.tf': '',
      'stage/us-east-1/network/main.tf': '',
      'stage/us-east-1/app/main.tf': '',
    });
    // WHEN validated with the repository
    const res = await runCli(['validate', '--config', file, '--repo', repo]);
    // THEN each problem is listed and the exit code is 1
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('dependencies FAILED');
    expect(res.stdout).toContain('  - account dev: the dependencies form a cycle: dev/us-east-1/app -> dev/us-east-1/network -> dev/us-east-1/app\n');
    expect(res.stdout).toContain('  - account dev: dev/us-east-1/app depends on dev/us-east-1/cache (dependsOn[0]: on "cache"), which is not a module (no *.tf or terragrunt.hcl there)\n');
    expect(res.stdout).toContain(
      '  - account dev: dev/us-east-1/db depends on stage/us-east-1/network (dependsOn[2]: on "/stage/us-east-1/network"), a module of account stage; a dependency stays within one account, and accounts are ordered by the stages (stageOrder)\n',
    );
  });

  it('reads terragrunt dependency blocks of the working tree', async () => {
    const file = writeConfig((cfg) => {
      cfg.runner.tool = 'terragrunt';
      delete cfg.dependsOn;
    });
    const repo = treeWith({
      'dev/us-east-1/vpc/terragrunt.hcl': '',
      'dev/us-east-1/app/terragrunt.hcl': 'dependency "vpc" {\n  config_path = "../vpc"\n}\n',
      'dev/us-east-1/app/.terragrunt-cache/x/main.tf': '',
    });
    const res = await runCli(['validate', '--config', file, '--repo', repo, '--json']);
    const report = ValidationReportSchema.parse(JSON.parse(res.stdout));
    expect(report.sections.find((s) => s.name === 'dependencies')!.problems).toEqual([]);
    expect(report.graphs?.[0]).toMatchObject({ order: ['dev/us-east-1/vpc', 'dev/us-east-1/app'], dependencies: { 'dev/us-east-1/app': ['dev/us-east-1/vpc'] } });
  });

  it('fails when --repo is not a directory, saying so', async () => {
    const res = await runCli(['validate', '--config', EXAMPLE, '--repo', join(tmpdir(), 'no-such-checkout')]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/dependencies FAILED .*\n {2}- cannot read the repository .*no-such-checkout: /);
  });

  it('says on stderr that dependencies were not checked when rules exist and no --repo is given', async () => {
    const res = await runCli(['validate', '--config', EXAMPLE]);
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('module dependencies not checked: pass --repo');
  });
});
