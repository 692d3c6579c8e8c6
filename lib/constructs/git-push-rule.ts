import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ruleDelivery, type RuleDeliveryProps } from './rule-delivery';
import { PUSH_EVENT_DETAIL_TYPE, PUSH_EVENT_SOURCE } from '../domain/push-event';

/** Props of {@link GitPushRule}. */
export interface GitPushRuleProps extends RuleDeliveryProps {
  readonly eventBus: events.IEventBus;
  /** The state machine each canonical push starts. */
  readonly stateMachine: sfn.IStateMachine;
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
    const delivery = ruleDelivery(this, 'git push rule', props);
    this.deadLetterQueue = delivery.deadLetterQueue;
    this.rule = new events.Rule(this, 'Rule', {
      eventBus: props.eventBus,
      description: 'Starts the tfstep pipeline for each canonical git push',
      eventPattern: { source: [PUSH_EVENT_SOURCE], detailType: [PUSH_EVENT_DETAIL_TYPE] },
    });
    this.rule.addTarget(
      new targets.SfnStateMachine(props.stateMachine, delivery),
    );
  }
}
