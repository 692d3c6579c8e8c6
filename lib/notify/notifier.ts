/**
 * The notifier the pipeline function's `notifier` dep uses in AWS: every message goes to the SNS
 * topic, and, when the config names a token secret, the run's commit on GitHub gets a status.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, type MessageAttributeValue, type SNSClient } from '@aws-sdk/client-sns';
import type { Config } from '../config/schema';
import { safeSubject } from './format';
import { GitHubStatusClient, secretsManagerToken, type CommitState } from './github-status';
import { executionArnOf, executionConsoleUrl } from './links';

/** The pipeline's notifier shape (lib/pipeline/deps.ts `Notifier`). */
export interface Notifier {
  publish(subject: string, text: string, attributes?: Record<string, string>): Promise<void>;
}

/** Where errors of the optional GitHub status go; they never fail a publish. */
export interface NotifyLogger {
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

/** Options of {@link SnsGitHubNotifier}. */
export interface SnsGitHubNotifierProps {
  readonly sns: SNSClient;
  readonly topicArn: string;
  readonly config: Config;
  /** Builds console links for the statuses' target URL. */
  readonly stateMachineArn: string;
  /** Absent: no commit statuses are posted. */
  readonly github?: GitHubStatusClient;
  /** The commit of an execution, when the attributes do not carry it (the run table). */
  readonly commitOf?: (execution: string) => Promise<string | undefined>;
  readonly logger?: NotifyLogger;
}

/** The GitHub state a run status or notification kind maps to. */
export function commitStateOf(status: string): CommitState | undefined {
  switch (status.toUpperCase().replace(/-/g, '_')) {
    case 'STARTED':
    case 'RUNNING':
    case 'AWAITING_APPROVAL':
      return 'pending';
    case 'SUCCEEDED':
      return 'success';
    case 'FAILED':
    case 'REJECTED':
    case 'EXPIRED':
      return 'failure';
    default:
      return undefined;
  }
}

/**
 * Publishes to SNS, then posts the commit status. Attributes used: `status` (or `kind`),
 * `repository`, `execution`, and optionally `commit` and `stage`. Every attribute also becomes
 * an SNS message attribute, so subscriptions can filter on them.
 */
export class SnsGitHubNotifier implements Notifier {
  constructor(private readonly props: SnsGitHubNotifierProps) {}

  async publish(subject: string, text: string, attributes: Record<string, string> = {}): Promise<void> {
    const messageAttributes: Record<string, MessageAttributeValue> = {};
    for (const [key, value] of Object.entries(attributes)) {
      // SNS refuses empty values and names outside [A-Za-z0-9_.-].
      if (value !== '' && /^[A-Za-z0-9_.-]{1,256}$/.test(key)) messageAttributes[key] = { DataType: 'String', StringValue: value };
    }
    await this.props.sns.send(
      new PublishCommand({
        TopicArn: this.props.topicArn,
        Subject: safeSubject(subject),
        Message: text,
        MessageAttributes: Object.keys(messageAttributes).length > 0 ? messageAttributes : undefined,
      }),
    );
    try {
      await this.postStatus(attributes);
    } catch (err) {
      this.props.logger?.warn('could not post the GitHub commit status', {
        execution: attributes.execution,
        error: err instanceof Error ? { name: err.name, message: err.message } : String(err),
      });
    }
  }

  private async postStatus(attributes: Record<string, string>): Promise<void> {
    const { github } = this.props;
    const state = commitStateOf(attributes.status ?? attributes.kind ?? '');
    const repository = attributes.repository;
    const execution = attributes.execution;
    if (!github || !state || !repository || !execution) return;
    const repo = this.props.config.repositories.find((r) => r.fullName.toLowerCase() === repository.toLowerCase());
    if (repo?.provider !== 'github') return;
    const sha = attributes.commit ?? (await this.props.commitOf?.(execution));
    if (!sha) return;
    const stage = attributes.stage;
    const status = (attributes.status ?? attributes.kind ?? '').toLowerCase().replace(/[_-]/g, ' ');
    await github.setStatus({
      repository: repo.fullName,
      sha,
      state,
      targetUrl: executionConsoleUrl(executionArnOf(this.props.stateMachineArn, execution)),
      description: `tfstep ${execution}: ${status}${stage ? ` (${stage})` : ''}`,
      context: `tfstep/${stage ?? 'pipeline'}`,
    });
  }
}

/** What {@link createNotifier} needs besides the config. */
export interface CreateNotifierDeps {
  readonly sns: SNSClient;
  readonly secrets: SecretsManagerClient;
  readonly topicArn: string;
  readonly stateMachineArn: string;
  readonly commitOf?: (execution: string) => Promise<string | undefined>;
  readonly logger?: NotifyLogger;
  /** @default 'https://api.github.com' */
  readonly githubBaseUrl?: string;
  readonly fetch?: typeof fetch;
}

/**
 * The notifier of the config: SNS always; GitHub commit statuses only when
 * `notifications.githubStatusTokenSecret` is set.
 */
export function createNotifier(config: Config, deps: CreateNotifierDeps): SnsGitHubNotifier {
  const secret = config.notifications.githubStatusTokenSecret;
  const github = secret ? new GitHubStatusClient({ token: secretsManagerToken(deps.secrets, secret), baseUrl: deps.githubBaseUrl, fetch: deps.fetch }) : undefined;
  return new SnsGitHubNotifier({
    sns: deps.sns,
    topicArn: deps.topicArn,
    config,
    stateMachineArn: deps.stateMachineArn,
    github,
    commitOf: deps.commitOf,
    logger: deps.logger,
  });
}
