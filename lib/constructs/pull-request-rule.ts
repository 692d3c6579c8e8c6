import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { PULL_REQUEST_EVENT_DETAIL_TYPE } from '../domain/pull-request-event';
import { PUSH_EVENT_SOURCE } from '../domain/push-event';
import { ruleDelivery, type RuleDeliveryProps } from './rule-delivery';

/** Props of {@link PullRequestRule}. */
export interface PullRequestRuleProps extends RuleDeliveryProps {
  readonly eventBus: events.IEventBus;
  /** The function that starts and stops pull request plans (the pipeline function). */
  readonly target: lambda.IFunction;
}

/**
 * Routes canonical pull request events (source `tfstep.git`, detail-type `Git Pull Request`) to
 * the pipeline function, which stops the pull request's older run, starts the plan-only run of the
 * head and posts the check run (or stops the run of a closed pull request). An event the function
 * could not take after the retries lands in an encrypted dead-letter queue.
 */
export class PullRequestRule extends Construct {
  readonly rule: events.Rule;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: PullRequestRuleProps) {
    super(scope, id);
    const delivery = ruleDelivery(this, 'pull request rule', props);
    this.deadLetterQueue = delivery.deadLetterQueue;
    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.eventBus,
      description: 'Starts (or stops) the tfstep plan-only run of each pull request event',
      eventPattern: { source: [PUSH_EVENT_SOURCE], detailType: [PULL_REQUEST_EVENT_DETAIL_TYPE] },
    });
    this.rule.addTarget(new targets.LambdaFunction(props.target, delivery));
  }
}
