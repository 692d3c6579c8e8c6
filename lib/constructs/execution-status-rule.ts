import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ruleDelivery, type RuleDeliveryProps } from './rule-delivery';
import { ENDED_WITHOUT_FINISH, EXECUTION_STATUS_CHANGE } from '../statemachine/contracts';

/** Props of {@link ExecutionStatusRule}. */
export interface ExecutionStatusRuleProps extends RuleDeliveryProps {
  /** The pipeline state machine's ARN: only its own executions are forwarded, not its Map children. */
  readonly stateMachineArn: string;
  /** Further state machines whose executions are forwarded too (the plan-only one, for pull request runs). @default - none */
  readonly moreStateMachineArns?: readonly string[];
  /** The function that releases the branch and records the outcome (the pipeline function). */
  readonly target: lambda.IFunction;
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
 * Executions of the plan-only state machine come too: a pull request run that failed or timed out
 * before its finish step completes its check run as failed.
 */
export class ExecutionStatusRule extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ExecutionStatusRuleProps) {
    super(scope, id);
    const delivery = ruleDelivery(this, 'execution status rule', props);
    this.deadLetterQueue = delivery.deadLetterQueue;
    // No eventBus: Step Functions sends its events to the default bus only.
    this.rule = new events.Rule(this, 'Rule', {
      description: 'Releases the branch of a tfstep pipeline execution that ended without its finish state',
      eventPattern: {
        source: [EXECUTION_STATUS_CHANGE.source],
        detailType: [EXECUTION_STATUS_CHANGE.detailType],
        detail: { status: [...ENDED_WITHOUT_FINISH], stateMachineArn: [props.stateMachineArn, ...(props.moreStateMachineArns ?? [])] },
      },
    });
    this.rule.addTarget(
      new targets.LambdaFunction(props.target, delivery),
    );
  }
}
