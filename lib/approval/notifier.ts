import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { ApprovalNotice, ApprovalNotifier } from './types';

/** The SNS message attribute an email subscription's filter policy matches on. */
export const APPROVER_ATTRIBUTE = 'approver';

/**
 * Publishes one message per approver to the notifications topic, with the message attribute
 * `approver` set to the address. Each approver's email subscription carries the filter policy
 * `{"approver": ["<their address>"]}`, so each person receives only their own link.
 */
export class SnsApprovalNotifier implements ApprovalNotifier {
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  /** {@inheritDoc ApprovalNotifier.notify} */
  async notify(notice: ApprovalNotice): Promise<void> {
    await this.client.send(
      new PublishCommand({
        TopicArn: this.topicArn,
        Subject: notice.subject,
        Message: notice.text,
        MessageAttributes: {
          [APPROVER_ATTRIBUTE]: { DataType: 'String', StringValue: notice.approver },
          kind: { DataType: 'String', StringValue: 'approval' },
        },
      }),
    );
  }
}

/** Keeps notices in memory (tests) and optionally hands each to a callback (the local terminal). */
export class MemoryApprovalNotifier implements ApprovalNotifier {
  readonly notices: ApprovalNotice[] = [];

  constructor(private readonly onNotice?: (notice: ApprovalNotice) => void) {}

  /** {@inheritDoc ApprovalNotifier.notify} */
  notify(notice: ApprovalNotice): Promise<void> {
    this.notices.push(notice);
    this.onNotice?.(notice);
    return Promise.resolve();
  }
}
