/** The AWS variants: policy from SSM, artifacts in S3, git credentials from Secrets Manager. */
import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { artifactKeys, EXIT, RUNNER_POLICY_PARAMETER } from '../../lib/domain/runner-contract';
import { ArtifactNotFoundError, artifactStoreFromUri, S3ArtifactStore } from '../../lib/runner/artifacts';
import { baseInput, envOf, makeWorld, run, type World } from './helpers';

const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);
const sm = mockClient(SecretsManagerClient);

let world: World;
beforeEach(() => {
  ssm.reset();
  s3.reset();
  sm.reset();
  world = makeWorld();
});
afterEach(() => world.cleanup());

const ssmArgv = [`--policy-source=ssm:${RUNNER_POLICY_PARAMETER}`];
const clients = () => ({ ssm: new SSMClient({ region: 'us-east-1' }), s3: new S3Client({ region: 'us-east-1' }), secrets: new SecretsManagerClient({ region: 'us-east-1' }) });

describe('runner with AWS services', () => {
  it('GIVEN the policy in SSM and artifacts in S3 WHEN planned THEN the plan, JSON, summary, result and log are put in the bucket', async () => {
    ssm.on(GetParameterCommand, { Name: RUNNER_POLICY_PARAMETER }).resolves({ Parameter: { Value: JSON.stringify({ ...world.policy, artifacts: 's3://tfstep-artifacts-111111111111-us-east-1' }) } });
    s3.on(PutObjectCommand).resolves({});
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-s3' })), { argv: ssmArgv, deps: clients() });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
    const puts = s3.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.every((p) => p.Bucket === 'tfstep-artifacts-111111111111-us-east-1')).toBe(true);
    expect(puts.map((p) => p.Key).sort()).toEqual(
      [
        artifactKeys.planFile('exec-s3', 'dev', 'dev/network'),
        artifactKeys.planJson('exec-s3', 'dev', 'dev/network'),
        artifactKeys.summary('exec-s3', 'dev', 'dev/network'),
        artifactKeys.result('exec-s3', 'dev', 'dev/network'),
        artifactKeys.log('exec-s3', 'dev', 'plan'),
      ].sort(),
    );
  });

  it('fails when SSM cannot be read: exit 4 (retryable) and nothing runs', async () => {
    ssm.on(GetParameterCommand).rejects(new Error('throttled'));
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.INFRA);
    expect(out.stderr).toMatch(/cannot read the runner policy from ssm:\/tfstep\/runner\/policy/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('fails when the SSM policy is invalid: refused', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify({ ...world.policy, extra: true }) } });
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/invalid runner policy/);
  });

  it('refuses an SSM policy that asks to keep Terraform state on the task disk (local mode only)', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify({ ...world.policy, localStateDir: '/var/tmp/state' }) } });
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/localStateDir: only a local-mode policy file/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('GIVEN a policy from SSM WHEN terraform is missing THEN the test double is never used', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify(world.policy) } });
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: { ...clients(), testDouble: undefined } });
    expect(out.code).toBe(EXIT.INFRA);
    expect(out.stderr).toMatch(/terraform is not installed/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('fails when the git credentials secret cannot be read: exit 4 and nothing runs', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify({ ...world.policy, repositories: ['https://github.com/acme/live'], gitCredentialsSecret: 'tfstep/git' }) } });
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const out = await run(world, envOf(baseInput(world, { repository: 'git@github.com:acme/live.git' })), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.INFRA);
    expect(out.stderr).toMatch(/cannot read the git credentials secret tfstep\/git: AccessDeniedException/);
    expect(out.doubleCalls).toEqual([]);
  });
});

describe('S3ArtifactStore', () => {
  beforeEach(() => s3.reset());

  it('GIVEN an object WHEN read THEN its bytes come back', async () => {
    const bytes = new TextEncoder().encode('plan');
    s3.on(GetObjectCommand, { Bucket: 'b-1', Key: 'p/k' }).resolves({ Body: { transformToByteArray: () => Promise.resolve(bytes) } } as never);
    const store = new S3ArtifactStore(new S3Client({ region: 'us-east-1' }), 'b-1', 'p/');
    const got = await store.get('k');
    expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it('fails when the key does not exist: ArtifactNotFoundError', async () => {
    s3.on(GetObjectCommand).rejects(new NoSuchKey({ message: 'no', $metadata: {} }));
    await expect(new S3ArtifactStore(new S3Client({ region: 'us-east-1' }), 'b-1').get('k')).rejects.toBeInstanceOf(ArtifactNotFoundError);
  });

  it('GIVEN s3://bucket/prefix WHEN parsed THEN keys go under the prefix', () => {
    const store = artifactStoreFromUri('s3://my-bucket/runs', new S3Client({ region: 'us-east-1' })) as S3ArtifactStore;
    expect([store.bucket, store.prefix]).toEqual(['my-bucket', 'runs/']);
  });
});
