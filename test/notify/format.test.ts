import { formatNotification, MAX_LISTED, safeSubject, type NotificationRun } from '../../lib/notify/format';
import { executionArnOf, executionConsoleUrl } from '../../lib/notify/links';

const ARN = 'arn:aws:states:eu-west-1:999999999999:execution:tfstep-pipeline:run-7';
const RUN: NotificationRun = {
  execution: 'run-7',
  repository: 'acme/infrastructure-live',
  branch: 'main',
  commit: '0123456789abcdef0123456789abcdef01234567',
  pusher: 'dave',
  message: 'Grow the cluster\n\nlong body',
};
const LINKS = { console: executionConsoleUrl(ARN), approval: 'https://approve.example.com/a/abc' };

describe('formatNotification', () => {
  it('names the failed account and module, the reason, the logs and the replay command', () => {
    // GIVEN a run that failed in stage
    const run: NotificationRun = {
      ...RUN,
      stage: 'stage',
      reason: 'stage stage failed',
      failed: [{ account: 'stage', module: 'stage/eu-west-1/network', error: 'Error: creating EC2 VPC: UnauthorizedOperation\nmore' }],
    };
    // WHEN it is formatted
    const n = formatNotification('failed', run, LINKS);
    // THEN the subject says what and where, and the text says what to do next
    expect(n.subject).toBe('tfstep: FAILED in stage: acme/infrastructure-live main 0123456');
    expect(n.text).toContain('reason:     stage stage failed');
    expect(n.text).toContain('  - account stage, module stage/eu-west-1/network\n    Error: creating EC2 VPC: UnauthorizedOperation\n');
    expect(n.text).toContain('replay:     tfstep replay run-7');
    expect(n.text).toContain('logs:       tfstep logs run-7 --account stage');
    expect(n.text).toContain(`execution:  https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/${ARN}`);
    expect(n.text).toContain('message:    Grow the cluster\n');
    expect(n.text).not.toContain('long body');
  });

  it('asks for approval with the plan of each module and the approval page', () => {
    const n = formatNotification('awaiting-approval', { ...RUN, stage: 'prod', plans: [{ account: 'prod', module: 'prod/eu-west-1/app', add: 2, change: 1, destroy: 0 }] }, LINKS);
    expect(n.subject).toBe('tfstep: awaiting approval in prod: acme/infrastructure-live main 0123456');
    expect(n.text).toContain('  - prod prod/eu-west-1/app: 2 to add, 1 to change, 0 to destroy');
    expect(n.text).toContain('review and decide: https://approve.example.com/a/abc');
  });

  it('keeps a 1,000-account notification short: destroys first, at most 25 lines, and how many more', () => {
    // GIVEN 1,000 plans, one of which destroys (last), and 1,000 failures
    const plans = Array.from({ length: 1000 }, (_, i) => ({ account: `acct-${i}`, module: 'app', add: 1, change: 0, destroy: i === 999 ? 3 : 0 }));
    const failed = Array.from({ length: 1000 }, (_, i) => ({ account: `acct-${i}`, module: 'app', error: 'boom' }));
    // WHEN formatted
    const asking = formatNotification('awaiting-approval', { ...RUN, stage: 'prod', plans }, LINKS).text;
    const failing = formatNotification('failed', { ...RUN, stage: 'prod', failed }, LINKS).text;
    // THEN the destroying plan leads, 25 are listed, and the rest are counted
    expect(asking.split('\n').filter((l) => l.startsWith('  - acct-'))).toHaveLength(MAX_LISTED);
    expect(asking).toContain('plan:\n  - acct-999 app: 1 to add, 0 to change, 3 to destroy\n');
    expect(asking).toContain('  ... and 975 more module plan(s) on the approval page');
    expect(failing.split('\n').filter((l) => l.startsWith('  - account acct-'))).toHaveLength(MAX_LISTED);
    expect(failing).toContain('  ... and 975 more (tfstep show run-7)');
    expect(Buffer.byteLength(asking) + Buffer.byteLength(failing)).toBeLessThan(16 * 1024);
  });

  it('tells how to decide from the CLI when there is no approval page', () => {
    expect(formatNotification('awaiting-approval', { ...RUN, stage: 'prod' }).text).toContain('decide with: tfstep approve run-7');
  });

  it.each([
    ['started', 'tfstep: started: acme/infrastructure-live main 0123456'],
    ['succeeded', 'tfstep: succeeded: acme/infrastructure-live main 0123456'],
    ['rejected', 'tfstep: rejected in prod: acme/infrastructure-live main 0123456'],
    ['expired', 'tfstep: approval expired in prod: acme/infrastructure-live main 0123456'],
  ] as const)('gives %s a subject that says so', (kind, subject) => {
    const n = formatNotification(kind, { ...RUN, stage: 'prod', reason: 'nobody decided', decisions: [{ approver: 'alice@example.com', decision: 'reject', comment: 'not today' }] }, LINKS);
    expect(n.subject).toBe(subject);
    expect(n.text).not.toContain('tfstep replay');
    if (kind === 'rejected') expect(n.text).toContain('  - alice@example.com: reject ("not today")');
    if (kind === 'succeeded') expect(n.text).not.toContain('reason:');
  });

  it('keeps subjects SNS accepts: one ASCII line of at most 100 characters', () => {
    const n = formatNotification('failed', { ...RUN, repository: `acme/${'x'.repeat(150)}`, branch: 'feature/ünïcode\nline' });
    expect(n.subject.length).toBeLessThanOrEqual(100);
    expect(n.subject).toMatch(/^[\x20-\x7e]+$/);
    expect(safeSubject('a\r\nb\tc  d')).toBe('a b c d');
  });
});

describe('links', () => {
  it('builds execution ARNs and console links in other partitions', () => {
    expect(executionArnOf('arn:aws-us-gov:states:us-gov-west-1:1:stateMachine:tfstep-pipeline', 'r1')).toBe('arn:aws-us-gov:states:us-gov-west-1:1:execution:tfstep-pipeline:r1');
    expect(executionConsoleUrl('arn:aws-us-gov:states:us-gov-west-1:1:execution:tfstep-pipeline:r1')).toMatch(/^https:\/\/us-gov-west-1\.console\.amazonaws-us-gov\.com\/states\/home\?region=us-gov-west-1#/);
    expect(executionConsoleUrl('arn:aws-cn:states:cn-north-1:1:execution:tfstep-pipeline:r1')).toMatch(/^https:\/\/console\.amazonaws\.cn\/states\/home\?region=cn-north-1#/);
    expect(executionConsoleUrl('arn:aws:states:eu-west-1:1:execution:tfstep-pipeline:r1')).toMatch(/^https:\/\/eu-west-1\.console\.aws\.amazon\.com\/states\/home\?region=eu-west-1#/);
  });
});
