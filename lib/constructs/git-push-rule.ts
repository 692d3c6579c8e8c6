import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE } from '../domain/push-event';

/** Props of {@link GitPushRule}. */
export interface GitPushRuleProps {
  readonly eventBus: events.IEventBus;
  /** The state machine each canonical push starts. */
  readonly stateMachine: sfn.IStateMachine;
  /** @default - 24 hours (EventBridge's maximum) */
  readonly maxEventAgeHours?: number;
  /** @default - 185 (EventBridge's maximum) */
  readonly retryAttempts?: number;
}

/**
 * Routes canonical push events (source `tfstep.git`, detail-type `Git Push`) to the state
 * machine. A push that cannot start an execution lands in an encrypted dead-letter queue
 * instead of vanishing: GitHub does not redeliver by itself.
 */
export class GitPushRule extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: GitPushRuleProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the git push rule target.',
    });
    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.eventBus,
      description: 'Starts the tfstep pipeline for each canonical git push',
      eventPattern: { source: [PUSH_EVENT_SOURCE], detailType: [PUSH_EVENT_DETAIL_TYPE] },
    });
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, {
        deadLetterQueue: this.deadLetterQueue,
        maxEventAge: Duration.hours(props.maxEventAgeHours ?? 24),
        retryAttempts: props.retryAttempts ?? 185,
      }),
    );
  }
}
