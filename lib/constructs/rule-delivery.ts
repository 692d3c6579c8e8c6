import { Duration, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/** How long and how often EventBridge tries to deliver an event to a rule's target. */
export interface RuleDeliveryProps {
  /** @default - 24 hours (EventBridge's maximum) */
  readonly maxEventAgeHours?: number;
  /** @default - 185 (EventBridge's maximum) */
  readonly retryAttempts?: number;
}

/**
 * The dead-letter queue of a rule's target (encrypted, TLS only, kept 14 days) and the delivery
 * settings that lead to it: an event the target could not take after every retry lands there
 * instead of vanishing.
 */
export function ruleDelivery(scope: Construct, what: string, props: RuleDeliveryProps): { deadLetterQueue: sqs.Queue; maxEventAge: Duration; retryAttempts: number } {
  const deadLetterQueue = new sqs.Queue(scope, 'DeadLetters', {
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  Validations.of(deadLetterQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself the dead-letter queue of the ${what} target.`,
  });
  return { deadLetterQueue, maxEventAge: Duration.hours(props.maxEventAgeHours ?? 24), retryAttempts: props.retryAttempts ?? 185 };
}
