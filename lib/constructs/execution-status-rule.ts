import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENDED_WITHOUT_FINISH, EXECUTION_STATUS_CHANGE } from '../statemachine/contracts';

/** Props of {@link ExecutionStatusRule}. */
export interface ExecutionStatusRuleProps {
  /** The pipeline state machine's ARN: only its own executions are forwarded, not its Map children. */
  readonly stateMachineArn: string;
  /** The function that releases the branch and records the outcome (the pipeline function). */
  readonly target: lambda.IFunction;
  /** @default - 24 hours (EventBridge's maximum) */
  readonly maxEventAgeHours?: number;
  /** @default - 185 (EventBridge's maximum) */
  readonly retryAttempts?: number;
}

/**
 * Forwards every execution of the pipeline that ended FAILED, TIMED_OUT or ABORTED to the
 * pipeline function, so a run that ended without reaching its finish state (stopped, timed out,
 * or failed with an error no Catch catches, such as `States.DataLimitExceeded`) still releases
 * its branch, records its outcome and wakes the runs queued behind it.
 *
 * Step Functions sends "Step Functions Execution Status Change" events to the account's default
 * event bus, on a best-effort basis ("Step Functions events", EventBridge events reference): a
 * lost event is covered by the queued runs' heartbeat timeout, which makes them look again.
 * An event the function could not handle after the retries lands in a dead-letter queue.
 */
export class ExecutionStatusRule extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExecutionStatusRuleProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself the dead-letter queue of the execution status rule target.',
    });
    // No eventBus: Step Functions sends its events to the default bus only.
    this.rule = new events.Rule(this, 'Rule', {
      description: 'Releases the branch of a tfstep pipeline execution that ended without its finish state',
      eventPattern: {
        source: [EXECUTION_STATUS_CHANGE.source],
        detailType: [EXECUTION_STATUS_CHANGE.detailType],
        detail: { status: [...ENDED_WITHOUT_FINISH], stateMachineArn: [props.stateMachineArn] },
      },
    });
    this.rule.addTarget(
      new targets.LambdaFunction(props.target, {
        deadLetterQueue: this.deadLetterQueue,
        maxEventAge: Duration.hours(props.maxEventAgeHours ?? 24),
        retryAttempts: props.retryAttempts ?? 185,
      }),
    );
  }
}
