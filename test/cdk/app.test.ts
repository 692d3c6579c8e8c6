import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../lib/app';
import { ConfigError, TfstepError } from '../../lib/config/errors';
import { names } from '../../lib/domain/names';
import { EXAMPLE_CONFIG, FIXTURE_ENTRIES, removeTempDirs, tempDir } from './support';

const options = { functionEntries: FIXTURE_ENTRIES, skipBundling: true, validate: false };

describe('buildApp', () => {
  const savedContext = process.env.CDK_CONTEXT_JSON;

  afterEach(() => {
    if (savedContext === undefined) delete process.env.CDK_CONTEXT_JSON;
    else process.env.CDK_CONTEXT_JSON = savedContext;
  });
  afterAll(removeTempDirs);

  it('reads the config file named by the tfstep:config context value, as cdk.json sets it', () => {
    // GIVEN the context the CDK CLI passes from cdk.json
    process.env.CDK_CONTEXT_JSON = JSON.stringify({ 'tfstep:config': EXAMPLE_CONFIG });
    // WHEN
    const built = buildApp(undefined, tempDir('tfstep-cdk-out-'), options);
    // THEN
    expect(built.config.central.account).toBe('999999999999');
    expect(built.app.node.children.map((c) => c.node.id).sort()).toEqual(
      [names.centralStack(), names.accountStack('dev'), names.accountStack('prod'), names.accountStack('stage')].sort(),
    );
  });

  it('fails when no config file is named', () => {
    // GIVEN no tfstep:config context
    delete process.env.CDK_CONTEXT_JSON;
    // WHEN / THEN
    expect(() => buildApp(undefined, tempDir('tfstep-cdk-out-'), options)).toThrow(TfstepError);
    expect(() => buildApp(undefined, tempDir('tfstep-cdk-out-'), options)).toThrow(/no config file: expected a path in the "tfstep:config" context value/);
  });

  it('fails when the config file is invalid, listing what is wrong', () => {
    // GIVEN a config whose central account id is not 12 digits
    const file = join(tempDir('tfstep-cdk-app-'), 'tfstep.yaml');
    writeFileSync(file, 'version: 1\ncentral: { account: "123", region: us-east-1 }\n');
    // WHEN / THEN
    expect(() => buildApp(file, tempDir('tfstep-cdk-out-'), options)).toThrow(ConfigError);
    expect(() => buildApp(file, tempDir('tfstep-cdk-out-'), options)).toThrow(/central\.account: got "123"; expected a 12-digit AWS account id/);
  });
});
