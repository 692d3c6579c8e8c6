import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    expect(res.stdout).toMatch(/^config {6}ok {2}1 repository, 3 stages, 3 accounts\nallowlists {2}ok {2}2 clone URLs, runner policies of dev, stage, prod\ndefinition {2}ok {2}statemachines\/pipeline\.asl\.json, \d+ states\n\nvalid\n$/);
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

  it('fails when a clone URL is one the runner would refuse, or a branch makes an invalid policy ref', async () => {
    const file = writeConfig((cfg) => {
      cfg.repositories[0].cloneUrls.push('ext::sh -c touch% ~/pwned');
    });
    const res = await runCli(['validate', '--config', file]);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain('allowlists  FAILED');
    expect(res.stdout).toContain('  - repositories[0].cloneUrls[2]: "ext::sh -c touch% ~/pwned" is not a clone URL the runner accepts');
    expect(res.stdout).toContain('1 problem found');
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
