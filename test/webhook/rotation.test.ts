// @octokit/webhooks-methods exports only an `import` condition, which jest's CommonJS resolver
// does not use; load its ESM build directly (jest compiles it to CommonJS).
jest.mock('@octokit/webhooks-methods', () => jest.requireActual(`${__dirname}/../../node_modules/@octokit/webhooks-methods/dist-node/index.js`), { virtual: true });

import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { createInMemoryDeps } from '../../lib/webhook/deps';
import { handleWebhook } from '../../lib/webhook/handler';
import { memoryLogger } from '../../lib/log';
import { SecretsManagerSecretProvider } from '../../lib/webhook/secrets';
import type { Clock, WebhookDeps } from '../../lib/webhook/types';
import { bodyOf, fixtureText, githubRequest, PREVIOUS_SECRET, SECRET, testConfig } from './helpers';

const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:999999999999:secret:tfstep/webhook-AbCdEf';
const secretsManager = mockClient(SecretsManagerClient);

/** A clock the test moves forward. */
function movableClock(): Clock & { advance(ms: number): void } {
  let now = Date.parse('2026-03-01T12:00:00.000Z');
  return { now: () => new Date(now), advance: (ms) => (now += ms) };
}

function stages(values: { current: string; previous?: string }): void {
  secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionStage: 'AWSCURRENT' }).resolves({ SecretString: values.current });
  if (values.previous === undefined) {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionStage: 'AWSPREVIOUS' })
      .rejects(new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS", $metadata: {} }));
  } else {
    secretsManager.on(GetSecretValueCommand, { SecretId: SECRET_ARN, VersionStage: 'AWSPREVIOUS' }).resolves({ SecretString: values.previous });
  }
}

function depsWith(clock: Clock): WebhookDeps & { logger: ReturnType<typeof memoryLogger> } {
  const logger = memoryLogger();
  const base = createInMemoryDeps({ config: testConfig(), secret: 'unused', clock, logger });
  return { ...base, logger, secrets: new SecretsManagerSecretProvider(new SecretsManagerClient({ region: 'us-east-1' }), SECRET_ARN, { clock }) };
}

const calls = (stage: string): number =>
  secretsManager.commandCalls(GetSecretValueCommand).filter((c) => c.args[0].input.VersionStage === stage).length;

describe('webhook secret rotation', () => {
  beforeEach(() => secretsManager.reset());

  it('verifies with AWSCURRENT and caches it', async () => {
    // GIVEN a secret that was never rotated
    stages({ current: SECRET });
    const deps = depsWith(movableClock());
    const body = fixtureText('github-push.json');

    // WHEN two pushes arrive
    const first = await handleWebhook(githubRequest(body), deps);
    const second = await handleWebhook(githubRequest(body), deps);

    // THEN both are published with one Secrets Manager call
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(calls('AWSCURRENT')).toBe(1);
    expect(calls('AWSPREVIOUS')).toBe(0);
  });

  it('accepts a signature made with AWSPREVIOUS when AWSCURRENT does not match', async () => {
    // GIVEN a rotated secret, and GitHub still signing with the previous one
    stages({ current: 'the-new-secret', previous: PREVIOUS_SECRET });
    const deps = depsWith(movableClock());

    // WHEN a push signed with the previous secret arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json'), { secret: PREVIOUS_SECRET }), deps);

    // THEN it is published, and the log says to update the hook
    expect(response.statusCode).toBe(200);
    expect(deps.logger.entries.map((e) => e.message)).toContain('delivery authenticated with the previous webhook secret; update the secret on the git host');
  });

  it('fails when neither AWSCURRENT nor AWSPREVIOUS matches', async () => {
    // GIVEN a rotated secret and a push signed with a third secret
    stages({ current: SECRET, previous: PREVIOUS_SECRET });
    const deps = depsWith(movableClock());

    // WHEN it arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json'), { secret: 'an-old-old-secret' }), deps);

    // THEN it answers 401
    expect(response.statusCode).toBe(401);
    expect(bodyOf(response)).toEqual({ reason: 'signature does not match the webhook secret' });
  });

  it('fails when no signature matches and the secret has no AWSPREVIOUS', async () => {
    // GIVEN a never-rotated secret (AWSPREVIOUS does not exist)
    stages({ current: SECRET });
    const deps = depsWith(movableClock());

    // WHEN a push signed with another secret arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json'), { secret: 'other' }), deps);

    // THEN it answers 401, not 500
    expect(response.statusCode).toBe(401);
  });

  it('picks up a rotation before the cache expires when the git host already uses the new secret', async () => {
    // GIVEN the old secret cached
    stages({ current: SECRET });
    const clock = movableClock();
    const deps = depsWith(clock);
    expect((await handleWebhook(githubRequest(fixtureText('github-push.json')), deps)).statusCode).toBe(200);

    // WHEN the secret is rotated, the hook updated, and a push arrives 15 s later
    secretsManager.reset();
    stages({ current: 'the-new-secret', previous: SECRET });
    clock.advance(15_000);
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json'), { secret: 'the-new-secret' }), deps);

    // THEN the secret is fetched again and the push accepted
    expect(response.statusCode).toBe(200);
  });

  it('fails when bad signatures arrive in a burst, without one Secrets Manager call each', async () => {
    // GIVEN a cached secret
    stages({ current: SECRET });
    const deps = depsWith(movableClock());
    await handleWebhook(githubRequest(fixtureText('github-push.json')), deps);

    // WHEN 20 forged deliveries arrive within the refresh interval
    const forged = await Promise.all(
      Array.from({ length: 20 }, () => handleWebhook(githubRequest(fixtureText('github-push.json'), { secret: 'forged' }), deps)),
    );

    // THEN all answer 401 and Secrets Manager was not asked again
    expect(forged.every((r) => r.statusCode === 401)).toBe(true);
    expect(calls('AWSCURRENT')).toBe(1);
  });

  it('fails with 500 and says why when the secret is empty', async () => {
    // GIVEN a secret created without a value
    stages({ current: '' });
    const deps = depsWith(movableClock());

    // WHEN a push arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json')), deps);

    // THEN it answers 500, not 401, and the log tells the operator
    expect(response.statusCode).toBe(500);
    expect(deps.logger.entries.find((e) => e.level === 'error')?.fields).toMatchObject({ error: { name: 'WebhookSecretError', message: expect.stringContaining('webhook secret has no value') } });
  });

  it('fails with 500 when Secrets Manager cannot be reached', async () => {
    // GIVEN Secrets Manager failing
    secretsManager.on(GetSecretValueCommand).rejects(new Error('connect ETIMEDOUT'));
    const deps = depsWith(movableClock());

    // WHEN a push arrives
    const response = await handleWebhook(githubRequest(fixtureText('github-push.json')), deps);

    // THEN it answers 500 so the sender can redeliver, and nothing is published
    expect(response.statusCode).toBe(500);
    expect(deps.logger.entries.find((e) => e.level === 'error')?.fields).toMatchObject({ error: { message: 'connect ETIMEDOUT' } });
  });
});
