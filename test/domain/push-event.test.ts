/**
 * The push's budget: whatever a push carries, the canonical event stays far under the 256 KiB
 * that Step Functions allows a state and EventBridge an entry.
 */
import { boundChangedPaths, boundCommitMessage, jsonBytes, PUSH_BUDGET, PushEventSchema, type PushEvent } from '../../lib/domain/push-event';

const SHA_A = 'a'.repeat(40);
const SHA_B = 'b'.repeat(40);

function push(overrides: Partial<PushEvent> = {}): PushEvent {
  return {
    provider: 'github',
    deliveryId: 'd'.repeat(200),
    repository: { fullName: 'o'.repeat(300), cloneUrls: ['https://github.com/acme/live.git'] },
    ref: 'refs/heads/main',
    branch: 'main',
    before: SHA_A,
    after: SHA_B,
    changes: { complete: true, paths: [] },
    pusher: 'p'.repeat(320),
    headCommit: { message: 'change' },
    receivedAt: '2026-11-20T10:00:00.000Z',
    ...overrides,
  };
}

/** Paths of the given length until the list is as large as its budget allows. */
function pathsFilling(budget: number, pathLength: number): string[] {
  const paths: string[] = [];
  while (jsonBytes([...paths, 'x'.repeat(pathLength)]) <= budget) paths.push(`${String(paths.length).padStart(8, '0')}/${'x'.repeat(pathLength - 9)}`);
  return paths;
}

describe('the push budget', () => {
  it('keeps the largest valid push under 100 KiB, escapes and multi-byte characters included', () => {
    // GIVEN a push with every field at its largest: paths, a message of escaped and 4-byte characters, clone URLs
    const paths = pathsFilling(PUSH_BUDGET.pathsJsonBytes, 120);
    const message = boundCommitMessage('"\\\n😀'.repeat(100_000));
    const cloneUrls = Array.from({ length: 3 }, (_, i) => `https://${String(i)}.example.com/${'r'.repeat(2000)}`);
    const largest = push({ changes: { complete: true, paths }, headCommit: { message, url: `https://example.com/${'u'.repeat(2000)}` }, repository: { fullName: 'o'.repeat(300), cloneUrls } });
    // WHEN it is validated THEN it is valid, and its JSON is under 100 KiB
    expect(PushEventSchema.safeParse(largest).success).toBe(true);
    expect(jsonBytes(largest)).toBeGreaterThan(80 * 1024);
    expect(jsonBytes(largest)).toBeLessThan(100 * 1024);
  });

  it('cuts a long message on a character boundary, marks it, and leaves a short one alone', () => {
    // GIVEN messages under and over the budget WHEN bounded
    expect(boundCommitMessage('fix: replicas 2')).toBe('fix: replicas 2');
    const cut = boundCommitMessage('😀'.repeat(150_000));
    // THEN the long one fits, ends with the marker, and holds no broken surrogate pair
    expect(jsonBytes(cut)).toBeLessThanOrEqual(PUSH_BUDGET.messageJsonBytes);
    expect(cut.endsWith(' [truncated]')).toBe(true);
    expect(cut.replace(' [truncated]', '')).toMatch(/^(😀)+$/u);
  });

  it('drops a path list over its budget, so the push is marked incomplete and targets reads git', () => {
    const fits = pathsFilling(PUSH_BUDGET.pathsJsonBytes, 60);
    expect(boundChangedPaths(fits)).toEqual(fits);
    expect(boundChangedPaths([...fits, 'z'.repeat(60)])).toBeUndefined();
  });

  it('fails validation of an unbounded message or path list, naming the budget', () => {
    const long = push({ headCommit: { message: 'm'.repeat(PUSH_BUDGET.messageJsonBytes) } });
    const result = PushEventSchema.safeParse(long);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toContain('cut longer ones with boundCommitMessage');
    const many = push({ changes: { complete: true, paths: [...pathsFilling(PUSH_BUDGET.pathsJsonBytes, 60), 'z'.repeat(60)] } });
    expect(JSON.stringify(PushEventSchema.safeParse(many).error?.issues)).toContain('marked incomplete');
  });
});
