/**
 * The CDK integration test of the whole pipeline: it deploys the central stack and one account
 * stack to a sandbox account (one account plays both parts), pushes a commit of the example
 * repository onto the bus, and asserts that the execution ended SUCCEEDED.
 *
 *   npm run integ        deploy, assert, destroy (needs a sandbox account; see docs/deploying.md)
 *   npm test             checks the synthesized app against the committed snapshot, offline
 *
 * The sandbox is described by environment variables; without them the placeholders below make
 * the offline snapshot:
 *
 * | variable                      | what                                                       |
 * | ----------------------------- | ---------------------------------------------------------- |
 * | `TFSTEP_INTEG_ACCOUNT`        | the sandbox account id (central and target)                |
 * | `TFSTEP_INTEG_REGION`         | its region                                                 |
 * | `TFSTEP_INTEG_VPC_ID`         | a VPC whose subnets reach GitHub and AWS APIs              |
 * | `TFSTEP_INTEG_SUBNET_IDS`     | comma-separated subnet ids of that VPC                     |
 * | `TFSTEP_INTEG_RUNNER_IMAGE`   | the runner image built from runner/Dockerfile, by digest   |
 * | `TFSTEP_INTEG_REPOSITORY`     | `owner/name` of a GitHub repository laid out like examples/infrastructure-live |
 * | `TFSTEP_INTEG_COMMIT`         | the commit of that repository to deploy                    |
 */
import { App, Duration } from 'aws-cdk-lib';
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { ConfigSchema, type Config } from '../../lib/config/schema';
import { names } from '../../lib/domain/names';
import { PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE, type PushEvent } from '../../lib/domain/push-event';
import { AccountStack } from '../../lib/stacks/account-stack';
import { CentralStack } from '../../lib/stacks/central-stack';

type Env = Readonly<Record<string, string | undefined>>;

/** The sandbox config: one account in stage `dev`, no approval, so one task plans and applies. */
export function integConfig(env: Env): Config {
  const account = env.TFSTEP_INTEG_ACCOUNT ?? '123456789012';
  const region = env.TFSTEP_INTEG_REGION ?? 'us-east-1';
  const repository = env.TFSTEP_INTEG_REPOSITORY ?? 'acme/infrastructure-live';
  return ConfigSchema.parse({
    version: 1,
    central: { account, region },
    repositories: [{ provider: 'github', fullName: repository, cloneUrls: [`https://github.com/${repository}.git`], deployBranch: 'main' }],
    stageOrder: ['dev'],
    stages: { dev: { concurrency: 1 } },
    accounts: [
      {
        name: 'dev',
        id: account,
        region,
        stage: 'dev',
        network: {
          vpcId: env.TFSTEP_INTEG_VPC_ID ?? 'vpc-0123456789abcdef0',
          subnetIds: (env.TFSTEP_INTEG_SUBNET_IDS ?? 'subnet-0123456789abcdef0').split(',').map((s) => s.trim()),
          assignPublicIp: true,
        },
      },
    ],
    layout: { accountRoot: '{account}/{region}' },
    runner: { image: env.TFSTEP_INTEG_RUNNER_IMAGE ?? 'public.ecr.aws/tfstep/runner:latest' },
  });
}

/** The push the test puts on the bus: the commit, as the webhook would have normalized it. */
export function integPush(config: Config, env: Env): PushEvent {
  const repo = config.repositories[0]!;
  return {
    provider: 'github',
    deliveryId: 'integ-pipeline',
    repository: { fullName: repo.fullName, cloneUrls: repo.cloneUrls },
    ref: 'refs/heads/main',
    branch: 'main',
    before: '0'.repeat(40),
    after: env.TFSTEP_INTEG_COMMIT ?? '1'.repeat(40),
    // Not trusted: the pipeline reads the repository for the changed modules.
    changes: { complete: false, paths: [] },
    pusher: 'integ',
    headCommit: { message: 'integration test' },
    receivedAt: '2026-01-01T00:00:00.000Z',
  };
}

/** Builds the integration test app; `skipBundling` for the offline snapshot. */
export function buildIntegApp(env: Env, options: { outdir?: string; skipBundling?: boolean } = {}): App {
  const app = new App({
    outdir: options.outdir,
    context: {
      // As lib/app.ts: access logs are delivered under a bucket policy.
      '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
      ...(options.skipBundling ? { 'aws:cdk:bundling-stacks': [] } : {}),
    },
  });
  const config = integConfig(env);
  // A sandbox account often has a low concurrency quota: no reserved concurrency.
  const central = new CentralStack(app, 'tfstep-integ-central', { config, publicFunctionConcurrency: false });
  const account = new AccountStack(app, 'tfstep-integ-account-dev', { config, account: config.accounts[0]! });
  // The launcher role trusts the state machine role, which must exist first.
  account.addStackDependency(central, 'the launcher role trusts the state machine role');
  const integ = new IntegTest(app, 'tfstep-pipeline', {
    testCases: [central, account],
    diffAssets: false,
    cdkCommandOptions: { destroy: { args: { force: true } } },
  });
  const put = integ.assertions.awsApiCall('EventBridge', 'putEvents', {
    Entries: [{ EventBusName: names.eventBus(), Source: PUSH_EVENT_SOURCE, DetailType: PUSH_EVENT_DETAIL_TYPE, Detail: JSON.stringify(integPush(config, env)) }],
  });
  put.expect(ExpectedResult.objectLike({ FailedEntryCount: 0 }));
  const stateMachineArn = `arn:aws:states:${config.central.region}:${config.central.account}:stateMachine:${names.stateMachine()}`;
  const succeeded = integ.assertions
    .awsApiCall('SFN', 'listExecutions', { stateMachineArn, statusFilter: 'SUCCEEDED' })
    .expect(ExpectedResult.objectLike({ executions: Match.arrayWith([Match.objectLike({ stateMachineArn, status: 'SUCCEEDED' })]) }))
    // Fargate start, clone, init, plan and apply of the example's dev modules.
    .waitForAssertions({ totalTimeout: Duration.minutes(30), interval: Duration.seconds(30) });
  put.next(succeeded);
  return app;
}

if (require.main === module) {
  buildIntegApp(process.env).synth();
}
