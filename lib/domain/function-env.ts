/**
 * The environment variables of the central functions, named once: the central stack sets them
 * and each function's dependency builder reads them by these names. Each function declares
 * which of them it needs ({@link FunctionEnvReads}), so the stack can be checked against the
 * reading side.
 */
export const FUNCTION_ENV = {
  /** The config as JSON; when unset, the file bundled beside the handler (see BUNDLED_CONFIG_FILE). */
  config: 'TFSTEP_CONFIG',
  /** The run table. */
  table: 'TFSTEP_TABLE',
  /** The artifacts bucket. */
  artifactsBucket: 'TFSTEP_ARTIFACTS_BUCKET',
  /** The notifications topic. */
  topicArn: 'TFSTEP_TOPIC_ARN',
  /** The pipeline state machine. */
  stateMachineArn: 'TFSTEP_STATE_MACHINE_ARN',
  /** Pipeline function only: the plan-only state machine, which pull request plans start. */
  planOnlyStateMachineArn: 'TFSTEP_PLAN_ONLY_STATE_MACHINE_ARN',
  /** The event bus pushes are put on. */
  eventBus: 'TFSTEP_EVENT_BUS',
  /** Secrets Manager secret holding the webhook secret. */
  webhookSecretArn: 'TFSTEP_WEBHOOK_SECRET_ARN',
  /** Webhook body limit in bytes. */
  webhookMaxBytes: 'TFSTEP_WEBHOOK_MAX_BYTES',
  /** Secrets Manager secret whose SecretString is the approval link signing key. */
  approvalKeySecretArn: 'TFSTEP_APPROVAL_KEY_SECRET_ARN',
  /** Public base URL of the approval pages. */
  approvalBaseUrl: 'TFSTEP_APPROVAL_BASE_URL',
  /** SSM parameter holding the approval base URL. */
  approvalBaseUrlParameter: 'TFSTEP_APPROVAL_BASE_URL_PARAMETER',
  /** The audit bucket (Object Lock, compliance mode): decisions and applies are appended there. */
  auditBucket: 'TFSTEP_AUDIT_BUCKET',
  /** Pipeline function only: the repository reader's git credentials (`git.centralSecret`, else `notifications.githubStatusTokenSecret`). */
  gitTokenSecretArn: 'TFSTEP_GIT_TOKEN_SECRET_ARN',
} as const;

/** The name of one central function environment variable. */
export type FunctionEnvName = (typeof FUNCTION_ENV)[keyof typeof FUNCTION_ENV];

/** What one function reads from its environment: its own declaration, kept beside the code that reads. */
export interface FunctionEnvReads {
  /** Variables without which the function refuses to start. */
  readonly required: readonly FunctionEnvName[];
  /** Variables it reads when set, with a default otherwise. */
  readonly optional: readonly FunctionEnvName[];
}
