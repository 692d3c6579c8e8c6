/**
 * The pipeline function's AWS dependencies, built from the environment the central stack sets:
 *
 * | variable                       | what                                                     |
 * | ------------------------------ | -------------------------------------------------------- |
 * | `TFSTEP_CONFIG`                | the config as JSON; unset in AWS, where the config is the bundled tfstep-config.json |
 * | `TFSTEP_TABLE`                 | the run table name                                       |
 * | `TFSTEP_ARTIFACTS_BUCKET`      | the artifacts bucket                                     |
 * | `TFSTEP_TOPIC_ARN`             | the SNS topic for run notifications                      |
 * | `TFSTEP_STATE_MACHINE_ARN`     | the pipeline state machine (execution ARNs from names)   |
 * | `TFSTEP_GIT_TOKEN_SECRET_ARN`  | optional: Secrets Manager secret with git credentials (GitHub App or token) |
 */
import { S3AuditLog } from '../audit/s3';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SendTaskSuccessCommand, SFNClient, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { parseConfig } from '../config/parse';
import { FUNCTION_ENV, type FunctionEnvReads } from '../domain/function-env';
import { arnPartitionRegion, executionArnOf, executionConsoleUrl, s3ObjectConsoleUrl } from '../notify/links';
import { createNotifier } from '../notify/notifier';
import { functionConfigJson, optionalEnv, requireEnv } from '../env';
import { httpCredentialFor, parseGitCredential, type GitCredential } from '../git-auth';
import { GitHubRepoReader, GitLabRepoReader, githubApiBase, gitlabApiBase } from '../planning/repo-reader';
import { awsOrganizationsReader, organizationsClientFor } from '../fleet/organizations';
import { RunStore } from '../store/run-store';
import type { ArtifactStore, ExecutionTracker, PipelineDeps, PipelineLogger, TaskTokenCallback } from './deps';
import { PipelineError } from './errors';
import type { PlanOnlyExecutions, PullRequestDeps } from './pull-request';
import type { Config } from '../config/schema';
import { pullRequestReporterFor } from '../pull-requests/reporter';
import { githubTeamCheck } from '../pull-requests/authors';
import type { PullRequestEvent } from '../domain/pull-request-event';

/** Environment variables the pipeline function reads, by their names in {@link FUNCTION_ENV}. */
export const PIPELINE_ENV = {
  config: FUNCTION_ENV.config,
  table: FUNCTION_ENV.table,
  artifactsBucket: FUNCTION_ENV.artifactsBucket,
  topicArn: FUNCTION_ENV.topicArn,
  stateMachineArn: FUNCTION_ENV.stateMachineArn,
  /** Set when `notifications.githubStatusTokenSecret` is: the GitHub token for commit statuses. */
  gitTokenSecretArn: FUNCTION_ENV.gitTokenSecretArn,
  /** The audit bucket each account's apply is appended to. */
  auditBucket: FUNCTION_ENV.auditBucket,
  planOnlyStateMachineArn: FUNCTION_ENV.planOnlyStateMachineArn,
} as const;

/** What {@link createAwsPipelineDeps} refuses to start without, and what it reads when set. */
export const PIPELINE_ENV_READS: FunctionEnvReads = {
  required: [PIPELINE_ENV.table, PIPELINE_ENV.artifactsBucket, PIPELINE_ENV.topicArn, PIPELINE_ENV.stateMachineArn, PIPELINE_ENV.auditBucket],
  optional: [PIPELINE_ENV.config, PIPELINE_ENV.gitTokenSecretArn, PIPELINE_ENV.planOnlyStateMachineArn],
};

type Env = Readonly<Record<string, string | undefined>>;

/** SDK clients, injectable for tests. */
export interface AwsClients {
  readonly dynamodb?: DynamoDBClient;
  readonly s3?: S3Client;
  readonly sfn?: SFNClient;
  readonly sns?: SNSClient;
  readonly secrets?: SecretsManagerClient;
}

function errorName(err: unknown): string | undefined {
  return (err as { name?: string }).name;
}

/**
 * The artifacts bucket: a missing key reads as `undefined`, any other failure throws. Writes are
 * the stages' item lists (the function's role may put objects under `<execution>/_stages/` only).
 */
export function s3Artifacts(s3: S3Client, bucket: string): ArtifactStore {
  return {
    bucket,
    async put(key, body) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }));
    },
    async get(key) {
      try {
        const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        if (!res.Body) return undefined;
        return Buffer.from(await res.Body.transformToByteArray());
      } catch (err) {
        if (errorName(err) === 'NoSuchKey' || errorName(err) === 'NotFound') return undefined;
        throw err;
      }
    },
  };
}

/** Execution liveness from DescribeExecution; names are turned into ARNs of `stateMachineArn`. */
export function sfnExecutions(sfn: SFNClient, stateMachineArn: string): ExecutionTracker {
  const arnOf = (id: string) => (id.startsWith('arn:') ? id : `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${id}`);
  return {
    async isRunning(id) {
      if (!id) return false;
      try {
        const res = await sfn.send(new DescribeExecutionCommand({ executionArn: arnOf(id) }));
        return res.status === 'RUNNING';
      } catch (err) {
        if (errorName(err) === 'ExecutionDoesNotExist') return false;
        throw err;
      }
    },
  };
}

/** Step Functions' limit on StopExecution's cause ("StopExecution", AWS Step Functions API reference: cause, at most 32,768 characters). */
const STOP_CAUSE_LIMIT = 32768;

/**
 * Plan-only executions of pull requests: StartExecution with the run's name, StopExecution of
 * the older run. StopExecution ends a Standard execution ABORTED; Step Functions then stops the
 * runner tasks it started with `ecs:runTask.sync` ("StopExecution", AWS Step Functions API
 * reference; "Run Amazon ECS or Fargate tasks with Step Functions"). An execution that no longer
 * exists counts as stopped.
 */
export function sfnPlanOnlyExecutions(sfn: SFNClient, planOnlyStateMachineArn: string): PlanOnlyExecutions {
  const arnOf = (id: string) => (id.startsWith('arn:') ? id : `${planOnlyStateMachineArn.replace(':stateMachine:', ':execution:')}:${id}`);
  return {
    async start(name, input) {
      const res = await sfn.send(new StartExecutionCommand({ stateMachineArn: planOnlyStateMachineArn, name, input: JSON.stringify(input) }));
      return res.executionArn ?? arnOf(name);
    },
    async stop(id, cause) {
      try {
        await sfn.send(new StopExecutionCommand({ executionArn: arnOf(id), error: 'tfstep.Superseded', cause: cause.slice(0, STOP_CAUSE_LIMIT) }));
      } catch (err) {
        if (errorName(err) === 'ExecutionDoesNotExist') return;
        throw err;
      }
    },
  };
}

/** The host API of a repository: GitHub's (github.com or an Enterprise server's `/api/v3`) or GitLab's `/api/v4`. */
export function pullRequestApiBase(provider: 'github' | 'gitlab', cloneUrls: readonly string[]): string {
  return provider === 'gitlab' ? gitlabApiBase(cloneUrls) : githubApiBase(cloneUrls);
}

/**
 * Pull request plans in AWS: the plan-only state machine and the reporter the central git
 * credentials allow (`pullRequestReporterFor`). Without a credentials secret the feedback calls
 * fail and are logged; the plans still run.
 *
 * Links, in the console of the state machine's partition and region: the run's page is the
 * plan-only execution's Step Functions page (the check run's details link); each module's row
 * links the S3 console page of its account's plan log in the artifacts bucket, which lives in the
 * central account and region as the state machine does; the summary ends with the `tfstep logs`
 * line that prints the same logs.
 */
export function awsPullRequestDeps(
  config: Config,
  sfn: SFNClient,
  planOnlyStateMachineArn: string,
  credential: (() => Promise<GitCredential>) | undefined,
  artifactsBucket?: string,
): PullRequestDeps {
  const { partition, region } = arnPartitionRegion(planOnlyStateMachineArn);
  const apiBaseOf = (pr: Pick<PullRequestEvent, 'provider' | 'repository'>) => {
    const repo = config.repositories.find((r) => r.fullName.toLowerCase() === pr.repository.fullName.toLowerCase());
    return pullRequestApiBase(pr.provider === 'gitlab' ? 'gitlab' : 'github', repo?.cloneUrls ?? pr.repository.cloneUrls);
  };
  return {
    planOnlyExecutions: sfnPlanOnlyExecutions(sfn, planOnlyStateMachineArn),
    runUrl: (name) => executionConsoleUrl(executionArnOf(planOnlyStateMachineArn, name)),
    ...(artifactsBucket ? { logUrl: (key: string) => s3ObjectConsoleUrl(partition, region, artifactsBucket, key) } : {}),
    logsCommand: (name) => `tfstep logs ${name}`,
    // `@org/team` entries of pullRequests.authors, asked with the central credentials; a new
    // checker per event, so membership answers live for that event only.
    async teams(pr) {
      return githubTeamCheck({
        credential: credential ? await credential() : undefined,
        credentialName: 'git.centralSecret',
        repository: pr.repository.fullName,
        apiBaseUrl: apiBaseOf(pr),
      });
    },
    async reporter(pr) {
      if (pr.provider === 'local') throw new PipelineError(`pull request feedback goes to GitHub or GitLab; ${pr.repository.fullName} comes from ${pr.provider}`);
      if (!credential) throw new PipelineError('pull request feedback needs git.centralSecret (a GitHub App, or a token) in the config');
      const repo = config.repositories.find((r) => r.fullName.toLowerCase() === pr.repository.fullName.toLowerCase());
      return pullRequestReporterFor({
        provider: pr.provider,
        credential: await credential(),
        repository: pr.repository.fullName,
        checkName: config.pullRequests?.checkName ?? 'tfstep plan',
        apiBaseUrl: pullRequestApiBase(pr.provider, repo?.cloneUrls ?? pr.repository.cloneUrls),
      });
    },
  };
}

/** SendTaskSuccess errors that mean no state waits on the token any more. */
const TOKEN_GONE = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

/** Wakes queued runs with SendTaskSuccess; a token nobody waits on any more answers false. */
export function sfnTaskTokens(sfn: SFNClient): TaskTokenCallback {
  return {
    async sendSuccess(token, output) {
      try {
        await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
        return true;
      } catch (err) {
        if (TOKEN_GONE.has(errorName(err) ?? '')) return false;
        throw err;
      }
    },
  };
}

/** How long a fetched git token is reused before it is read again (picks up rotation). */
const TOKEN_CACHE_MS = 5 * 60 * 1000;

/**
 * The git credentials of a Secrets Manager secret (any shape `parseGitCredential` accepts), read
 * again after a few minutes so a rotation is picked up. Kept in this process's memory only.
 */
export function secretCredential(secrets: SecretsManagerClient, secretArn: string, now: () => number = Date.now): () => Promise<GitCredential> {
  let cached: { value: GitCredential; at: number } | undefined;
  return async () => {
    if (cached && now() - cached.at < TOKEN_CACHE_MS) return cached.value;
    const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretArn }));
    const raw = res.SecretString?.trim();
    if (!raw) throw new PipelineError(`secret ${secretArn} has no string value; expected a GitHub App, a token or {"token": "..."}`);
    let value: GitCredential;
    try {
      value = parseGitCredential(raw, `secret ${secretArn}`);
    } catch (e) {
      throw new PipelineError((e as Error).message, { cause: e });
    }
    cached = { value, at: now() };
    return value;
  };
}

/**
 * The API token for one repository: a GitHub App's installation token scoped to that repository
 * (minted when needed, reused while it lives), or the secret's token as is.
 */
export function secretToken(secrets: SecretsManagerClient, secretArn: string, repository: string, now: () => number = Date.now): () => Promise<string | undefined> {
  const credential = secretCredential(secrets, secretArn, now);
  return async () => {
    try {
      return (await httpCredentialFor(await credential(), repository)()).token;
    } catch (e) {
      if (e instanceof PipelineError) throw e;
      throw new PipelineError(`cannot read ${repository} with the credentials of secret ${secretArn}: ${(e as Error).message}`, { cause: e });
    }
  };
}

/**
 * Attempts per DynamoDB and S3 call (the SDK's standard retry: exponential backoff with jitter).
 * A stage of many accounts records them at once, all under one run's partition key; a call still
 * throttled after these attempts fails the step, and the state machine retries it again.
 */
export const AWS_MAX_ATTEMPTS = 8;

/** Builds every dependency from the environment; throws an EnvError or ConfigError naming what is wrong. */
export function createAwsPipelineDeps(env: Env, logger: PipelineLogger, clients: AwsClients = {}): PipelineDeps {
  const config = parseConfig(functionConfigJson(PIPELINE_ENV.config, env), PIPELINE_ENV.config);
  const table = requireEnv(PIPELINE_ENV.table, env);
  const bucket = requireEnv(PIPELINE_ENV.artifactsBucket, env);
  const topicArn = requireEnv(PIPELINE_ENV.topicArn, env);
  const stateMachineArn = requireEnv(PIPELINE_ENV.stateMachineArn, env);
  const tokenSecret = optionalEnv(PIPELINE_ENV.gitTokenSecretArn, '', env);
  const planOnlyArn = optionalEnv(PIPELINE_ENV.planOnlyStateMachineArn, '', env);
  const secrets = clients.secrets ?? new SecretsManagerClient({});
  const token = (repository: string) => (tokenSecret ? secretToken(secrets, tokenSecret, repository) : undefined);
  const sfn = clients.sfn ?? new SFNClient({});
  const s3 = clients.s3 ?? new S3Client({ maxAttempts: AWS_MAX_ATTEMPTS });
  return {
    config,
    store: RunStore.fromClient(clients.dynamodb ?? new DynamoDBClient({ maxAttempts: AWS_MAX_ATTEMPTS }), table),
    artifacts: s3Artifacts(s3, bucket),
    audit: new S3AuditLog(s3, requireEnv(PIPELINE_ENV.auditBucket, env)),
    auditChannel: 'pipeline',
    repoReader: (push) => {
      if (push.provider === 'github') return new GitHubRepoReader({ fullName: push.repository.fullName, token: token(push.repository.fullName) });
      if (push.provider === 'gitlab') return new GitLabRepoReader({ fullName: push.repository.fullName, token: token(push.repository.fullName), apiBaseUrl: gitlabApiBase(push.repository.cloneUrls) });
      throw new PipelineError(`the pipeline function reads repositories through the GitHub or GitLab API; ${push.repository.fullName} comes from ${push.provider}`);
    },
    executions: sfnExecutions(sfn, stateMachineArn),
    ...(planOnlyArn ? { pullRequests: awsPullRequestDeps(config, sfn, planOnlyArn, tokenSecret ? secretCredential(secrets, tokenSecret) : undefined, bucket) } : {}),
    tasks: sfnTaskTokens(sfn),
    // SNS always; GitHub commit statuses too when the config names a token secret.
    notifier: createNotifier(config, {
      sns: clients.sns ?? new SNSClient({}),
      secrets: clients.secrets ?? new SecretsManagerClient({}),
      topicArn,
      stateMachineArn,
      logger: { warn: (message, fields) => logger.warn(message, fields) },
    }),
    clock: () => new Date(),
    logger,
    // The fleet refresh reads Organizations through the role the config names (docs/fleet.md).
    ...(config.fleet?.organizations
      ? { organizations: { from: 'organizations', reader: () => awsOrganizationsReader(organizationsClientFor(config.fleet!.organizations!.roleArn, config.central.region)) } }
      : {}),
  };
}
