import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { parseConfig } from '../config/parse';
import { FUNCTION_ENV, type FunctionEnvReads } from '../domain/function-env';
import type { Config } from '../config/schema';
import { names } from '../domain/names';
import { EnvError, functionConfigJson, optionalEnv, requireEnv } from '../env';
import { S3AuditLog } from '../audit/s3';
import { S3ArtifactReader } from './artifacts';
import type { ApprovalHttpDeps } from './http';
import { SnsApprovalNotifier } from './notifier';
import type { ApprovalRequestDeps } from './request';
import { SecretsManagerKeyProvider } from './signing';
import { ApprovalStore } from './store';
import { SfnTaskTokenSender } from './task-token';
import { systemClock, type Logger } from './types';

/** Environment variables the approval function reads, by their names in {@link FUNCTION_ENV}. */
export const APPROVAL_ENV = {
  /** The config as JSON (validated with parseConfig); else the bundled file. */
  config: FUNCTION_ENV.config,
  /** The run table. */
  table: FUNCTION_ENV.table,
  /** The notifications topic. */
  topicArn: FUNCTION_ENV.topicArn,
  /** Secrets Manager secret whose SecretString is the link signing key. */
  keySecretArn: FUNCTION_ENV.approvalKeySecretArn,
  /** Public base URL of the approval pages; falls back to notifications.approvalBaseUrl, then SSM. */
  baseUrl: FUNCTION_ENV.approvalBaseUrl,
  /** SSM parameter holding the base URL when neither of the above is set; default {@link DEFAULT_BASE_URL_PARAMETER}. */
  baseUrlParameter: FUNCTION_ENV.approvalBaseUrlParameter,
  /** The artifacts bucket; defaults to names.artifactsBucket(central account, central region). */
  artifactsBucket: FUNCTION_ENV.artifactsBucket,
  /** The audit bucket every decision is appended to. */
  auditBucket: FUNCTION_ENV.auditBucket,
} as const;

/** What {@link createAwsApprovalDeps} refuses to start without, and what it reads when set. */
export const APPROVAL_ENV_READS: FunctionEnvReads = {
  required: [APPROVAL_ENV.table, APPROVAL_ENV.topicArn, APPROVAL_ENV.keySecretArn, APPROVAL_ENV.auditBucket],
  optional: [APPROVAL_ENV.config, APPROVAL_ENV.baseUrl, APPROVAL_ENV.baseUrlParameter, APPROVAL_ENV.artifactsBucket],
};

/**
 * The SSM parameter the central stack writes the approval function URL to. The function cannot
 * get its own URL as an environment variable (the URL depends on the function: a cycle), so it
 * reads this parameter, by name, the first time it builds links.
 */
export const DEFAULT_BASE_URL_PARAMETER = '/tfstep/approval-base-url';

/** The AWS clients the function uses; injectable so tests pass mocked clients. */
export interface AwsApprovalClients {
  readonly dynamoDb?: DynamoDBClient;
  readonly sfn?: SFNClient;
  readonly sns?: SNSClient;
  readonly s3?: S3Client;
  readonly secretsManager?: SecretsManagerClient;
  readonly ssm?: SSMClient;
}

/** Everything the deployed approval function needs, for both of its entry points. */
export interface AwsApprovalDeps {
  readonly config: Config;
  readonly request: ApprovalRequestDeps;
  readonly http: ApprovalHttpDeps;
}

function checkBaseUrl(url: string, source: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.protocol !== 'https:' && parsed.hostname !== '127.0.0.1' && parsed.hostname !== 'localhost') throw new Error('not https');
  } catch (err) {
    throw new EnvError(APPROVAL_ENV.baseUrl, `approval base URL ${JSON.stringify(url)} (from ${source}) is not an https URL`, { cause: err });
  }
  return url;
}

/**
 * The base URL of the links: the variable, else the config's `notifications.approvalBaseUrl`,
 * else the SSM parameter (read once, when the first links are built). Only the approval step
 * needs it; the pages work without it.
 */
export function approvalBaseUrl(config: Config, env: Readonly<Record<string, string | undefined>>, ssm: () => SSMClient): string | (() => Promise<string>) {
  const fromEnv = optionalEnv(APPROVAL_ENV.baseUrl, '', env);
  if (fromEnv !== '') return checkBaseUrl(fromEnv, APPROVAL_ENV.baseUrl);
  if (config.notifications.approvalBaseUrl) return checkBaseUrl(config.notifications.approvalBaseUrl, 'notifications.approvalBaseUrl');
  const parameter = optionalEnv(APPROVAL_ENV.baseUrlParameter, DEFAULT_BASE_URL_PARAMETER, env);
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= ssm()
      .send(new GetParameterCommand({ Name: parameter }))
      .then(
        (out) => checkBaseUrl(out.Parameter?.Value ?? '', `SSM parameter ${parameter}`),
        (err: unknown) => {
          throw new EnvError(
            APPROVAL_ENV.baseUrl,
            `no approval base URL: ${APPROVAL_ENV.baseUrl} is not set, the config has no notifications.approvalBaseUrl, and SSM parameter ${parameter} could not be read (${err instanceof Error ? err.name : String(err)}); set one of them`,
            { cause: err },
          );
        },
      )
      .catch((err: unknown) => {
        cached = undefined;
        throw err;
      });
    return cached;
  };
}

/**
 * Builds the deployed function's dependencies from its environment, once per execution
 * environment, so the key cache and the clients' connections carry over.
 */
export function createAwsApprovalDeps(env: Readonly<Record<string, string | undefined>>, clients: AwsApprovalClients, logger: Logger): AwsApprovalDeps {
  const config = parseConfig(functionConfigJson(APPROVAL_ENV.config, env), APPROVAL_ENV.config);
  const table = requireEnv(APPROVAL_ENV.table, env);
  const topicArn = requireEnv(APPROVAL_ENV.topicArn, env);
  const keySecret = requireEnv(APPROVAL_ENV.keySecretArn, env);
  const baseUrl = approvalBaseUrl(config, env, () => clients.ssm ?? new SSMClient({}));
  const audit = new S3AuditLog(clients.s3 ?? new S3Client({}), requireEnv(APPROVAL_ENV.auditBucket, env));
  const bucket = optionalEnv(APPROVAL_ENV.artifactsBucket, names.artifactsBucket(config.central.account, config.central.region), env);
  const store = new ApprovalStore(DynamoDBDocumentClient.from(clients.dynamoDb ?? new DynamoDBClient({})), table);
  const keys = new SecretsManagerKeyProvider(clients.secretsManager ?? new SecretsManagerClient({}), keySecret);
  return {
    config,
    request: {
      store,
      keys,
      notifier: new SnsApprovalNotifier(clients.sns ?? new SNSClient({}), topicArn),
      artifacts: new S3ArtifactReader(clients.s3 ?? new S3Client({}), bucket),
      baseUrl,
      clock: systemClock,
      logger,
    },
    http: {
      store,
      keys,
      tasks: new SfnTaskTokenSender(clients.sfn ?? new SFNClient({})),
      audit,
      ...(typeof baseUrl === 'string' ? { baseUrl } : {}),
      clock: systemClock,
      logger,
    },
  };
}
