/** The AWS variants: policy from SSM, artifacts in S3, git credentials from Secrets Manager. */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { artifactKeys, EXIT, RUNNER_POLICY_PARAMETER } from '../../lib/domain/runner-contract';
import { ArtifactNotFoundError, artifactStoreFromUri, S3ArtifactStore } from '../../lib/runner/artifacts';
import { baseInput, envOf, makeWorld, manifestOf, run, type World } from './helpers';

const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);
const sm = mockClient(SecretsManagerClient);
const ddb = mockClient(DynamoDBClient);

let world: World;
beforeEach(() => {
  ssm.reset();
  s3.reset();
  sm.reset();
  ddb.reset();
  world = makeWorld();
});
afterEach(() => world.cleanup());

const ssmArgv = [`--policy-source=ssm:${RUNNER_POLICY_PARAMETER}`];
const clients = () => ({
  ssm: new SSMClient({ region: 'us-east-1' }),
  s3: new S3Client({ region: 'us-east-1' }),
  secrets: new SecretsManagerClient({ region: 'us-east-1' }),
  dynamodb: new DynamoDBClient({ region: 'us-east-1' }),
});
const TABLE = 'tfstep-plan-records-us-east-1';
/** The world's policy as the account stack writes it to SSM: plan records in the account's table. */
const ssmPolicy = (extra: Record<string, unknown> = {}) => JSON.stringify({ ...world.policy, planRecords: `dynamodb://${TABLE}`, ...extra });
const BUCKET = 'tfstep-artifacts-111111111111-us-east-1';
/** Serves the task's manifest from the mocked bucket, as the pipeline would have written it. */
function serveManifest(input: Parameters<typeof manifestOf>[0]): void {
  const m = manifestOf(input);
  const bytes = new TextEncoder().encode(m.body);
  s3.on(GetObjectCommand, { Bucket: BUCKET, Key: m.key }).resolves({ Body: { transformToByteArray: () => Promise.resolve(bytes) } } as never);
}

describe('runner with AWS services', () => {
  it('GIVEN the policy in SSM and artifacts in S3 WHEN planned THEN the plan, JSON, summary, result and log are put in the bucket', async () => {
    ssm.on(GetParameterCommand, { Name: RUNNER_POLICY_PARAMETER }).resolves({ Parameter: { Value: ssmPolicy({ artifacts: `s3://${BUCKET}` }) } });
    s3.on(PutObjectCommand).resolves({});
    ddb.on(PutItemCommand).resolves({});
    serveManifest(baseInput(world, { execution: 'exec-s3' }));
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
    // The manifest came from the bucket, read with the task's own credentials.
    expect(s3.commandCalls(GetObjectCommand).map((c) => c.args[0].input.Key)).toEqual([artifactKeys.manifest('exec-s3', 'dev', 'plan')]);
    expect(ddb.commandCalls(PutItemCommand)).toHaveLength(1);
  });

  it('fails when SSM cannot be read: exit 4 (retryable) and nothing runs', async () => {
    ssm.on(GetParameterCommand).rejects(new Error('throttled'));
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.INFRA);
    expect(out.stderr).toMatch(/cannot read the runner policy from ssm:\/tfstep\/runner\/policy/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('fails when the SSM policy is invalid: refused', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy({ extra: true }) } });
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/invalid runner policy/);
  });

  it('refuses an SSM policy that asks to keep Terraform state on the task disk (local mode only)', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy({ localStateDir: '/srv/tfstep-state' }) } });
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/localStateDir: only a local-mode policy file/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('GIVEN a policy from SSM WHEN terraform is missing THEN the test double is never used', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy() } });
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: { ...clients(), testDouble: undefined } });
    expect(out.code).toBe(EXIT.INFRA);
    expect(out.stderr).toMatch(/terraform is not installed/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('fails when the git credentials secret cannot be read: exit 4 and nothing runs', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy({ repositories: ['https://github.com/acme/live'], gitCredentialsSecret: 'tfstep/git' }) } });
    sm.on(GetSecretValueCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const out = await run(world, envOf(baseInput(world, { repository: 'git@github.com:acme/live.git' })), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.INFRA);
    expect(out.stderr).toMatch(/cannot read the git credentials secret tfstep\/git: AccessDeniedException/);
    expect(out.doubleCalls).toEqual([]);
  });
});

describe('plan records in the account\'s DynamoDB table', () => {
  it('GIVEN the plan phase WHEN it plans THEN it records the plan in the account\'s table: execution, module, commit, hash and an expiry', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy() } });
    ddb.on(PutItemCommand).resolves({});
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-ddb' })), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.OK);
    const puts = ddb.commandCalls(PutItemCommand).map((c) => c.args[0].input);
    expect(puts).toHaveLength(1);
    const planBytes = readFileSync(path.join(world.artifacts, artifactKeys.planFile('exec-ddb', 'dev', 'dev/network')));
    expect(puts[0]).toMatchObject({
      TableName: TABLE,
      Item: {
        execution: { S: 'exec-ddb' },
        module: { S: 'dev/network' },
        account: { S: 'dev' },
        commit: { S: world.main },
        sha256: { S: createHash('sha256').update(planBytes).digest('hex') },
        expiresAt: { N: expect.stringMatching(/^\d+$/) },
      },
    });
  });

  it('fails when the task role may not write the table (a plan run on the apply task definition): exit 4, and the line says why', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy() } });
    ddb.on(PutItemCommand).rejects(Object.assign(new Error('not authorized to perform: dynamodb:PutItem'), { name: 'AccessDeniedException' }));
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-denied' })), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.INFRA);
    expect(out.stderr).toMatch(/cannot record the plan of module "dev\/network" in this account \(only the plan task definition may run the plan phase\)/);
    // The plan that could not be recorded never reaches the artifacts store.
    expect(existsSync(path.join(world.artifacts, artifactKeys.planFile('exec-denied', 'dev', 'dev/network')))).toBe(false);
  });

  it('GIVEN a recorded plan WHEN applied THEN the record is read strongly consistent and the plan applies', async () => {
    // GIVEN a plan made and recorded (in a folder store), then the same record served by the table
    const planOut = await run(world, envOf(baseInput(world, { execution: 'exec-ddb-apply' })));
    expect(planOut.code).toBe(EXIT.OK);
    const hash = createHash('sha256').update(readFileSync(path.join(world.artifacts, artifactKeys.planFile('exec-ddb-apply', 'dev', 'dev/network')))).digest('hex');
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy() } });
    ddb.on(GetItemCommand).resolves({
      Item: { execution: { S: 'exec-ddb-apply' }, module: { S: 'dev/network' }, account: { S: 'dev' }, commit: { S: world.main }, sha256: { S: hash }, recordedAt: { S: '2026-01-01T00:00:00.000Z' } },
    });
    // WHEN applied
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-ddb-apply', phase: 'apply', approvedPlans: { 'dev/network': hash } })), { argv: ssmArgv, deps: clients() });
    // THEN
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
    expect(ddb.commandCalls(GetItemCommand).map((c) => c.args[0].input)).toEqual([
      { TableName: TABLE, Key: { execution: { S: 'exec-ddb-apply' }, module: { S: 'dev/network' } }, ConsistentRead: true },
    ]);
    expect(out.doubleCalls).toEqual(['dev/network init', 'dev/network apply']);
  });

  it('fails when the table holds no record of the plan: exit 3, nothing runs', async () => {
    const planOut = await run(world, envOf(baseInput(world, { execution: 'exec-ddb-none' })));
    const hash = createHash('sha256').update(readFileSync(path.join(world.artifacts, artifactKeys.planFile('exec-ddb-none', 'dev', 'dev/network')))).digest('hex');
    expect(planOut.code).toBe(EXIT.OK);
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: ssmPolicy() } });
    ddb.on(GetItemCommand).resolves({});
    const out = await run(world, envOf(baseInput(world, { execution: 'exec-ddb-none', phase: 'apply', approvedPlans: { 'dev/network': hash } })), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/this account's plan task recorded no plan of it in execution exec-ddb-none/);
    expect(out.doubleCalls).toEqual([]);
  });

  it('refuses an SSM policy whose plan records are a folder on the task disk (local mode only)', async () => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: JSON.stringify(world.policy) } });
    const out = await run(world, envOf(baseInput(world)), { argv: ssmArgv, deps: clients() });
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/planRecords: a policy from SSM must name the account's plan records table/);
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
