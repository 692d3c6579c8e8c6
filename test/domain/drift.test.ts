import { nextDriftEntry, orderEvents, type DriftEntry, type DriftEvent } from '../../lib/domain/drift';
import type { PlanOnlyTargetResult } from '../../lib/domain/plan-only';
import { formatDriftNotice, MAX_LISTED } from '../../lib/notify/format';

const SHA = 'a'.repeat(40);
const sweep = (at: string) => ({ id: `drift-${at}`, at, repository: 'acme/live' });
const result = (status: PlanOnlyTargetResult['status'], extra: Partial<PlanOnlyTargetResult> = {}): PlanOnlyTargetResult => ({ account: 'dev', module: 'm', commit: SHA, status, at: 't', ...extra });
const UPDATE = [{ address: 'terraform_data.x', action: 'update' as const }];

describe('the drift report moves on with each sweep', () => {
  test('drift where there was none is new; the same drift again keeps first seen and makes no event', () => {
    const first = nextDriftEntry(undefined, result('changes', { changes: UPDATE }), sweep('1'));
    expect(first.event).toBe('new');
    expect(first.entry).toMatchObject({ status: 'drifted', firstSeen: '1', lastSeen: '1', changes: UPDATE });
    const again = nextDriftEntry(first.entry, result('changes', { changes: UPDATE }), sweep('2'));
    expect(again.event).toBeUndefined();
    expect(again.entry).toMatchObject({ firstSeen: '1', lastSeen: '2' });
  });

  test('different changes on a drifted target are new drift', () => {
    const first = nextDriftEntry(undefined, result('changes', { changes: UPDATE }), sweep('1')).entry;
    const next = nextDriftEntry(first, result('changes', { changes: [...UPDATE, { address: 'aws_s3_bucket.b', action: 'delete' }] }), sweep('2'));
    expect(next.event).toBe('new');
    expect(next.entry.firstSeen).toBe('2');
  });

  test('a skip or an error keeps what was known and makes no event; clean afterwards is resolved', () => {
    const drifted = nextDriftEntry(undefined, result('changes', { changes: UPDATE }), sweep('1')).entry;
    const skipped = nextDriftEntry(drifted, result('skipped', { skippedBecause: 'held' }), sweep('2'));
    expect(skipped.event).toBeUndefined();
    expect(skipped.entry).toMatchObject({ status: 'skipped', skippedBecause: 'held', firstSeen: '1', changes: UPDATE });
    const failed = nextDriftEntry(skipped.entry, result('error', { error: 'boom' }), sweep('3'));
    expect(failed.event).toBeUndefined();
    const clean = nextDriftEntry(failed.entry, result('clean'), sweep('4'));
    expect(clean.event).toBe('resolved');
    expect(clean.entry.firstSeen).toBeUndefined();
    expect(nextDriftEntry(clean.entry, result('clean'), sweep('5')).event).toBeUndefined();
  });

  test('a skip of a target never seen drifted is not clean', () => {
    expect(nextDriftEntry(undefined, result('skipped'), sweep('1')).entry.status).toBe('skipped');
  });
});

describe('the drift notice', () => {
  const entry = (module: string, firstSeen: string, action: 'update' | 'delete'): DriftEntry => ({
    repository: 'acme/live', account: 'dev', module, commit: SHA, status: 'drifted', changes: [{ address: `r.${module}`, action }], firstSeen, lastSeen: firstSeen, sweep: 's', checkedAt: firstSeen,
  });

  test('lists destroys first, then the newest, at most 25 targets', () => {
    const events: DriftEvent[] = Array.from({ length: 30 }, (_, i) => ({ kind: 'new', entry: entry(`m${String(i).padStart(2, '0')}`, `2026-01-${String(i + 1).padStart(2, '0')}`, 'update') }));
    events.push({ kind: 'new', entry: entry('old-destroy', '2025-01-01', 'delete') });
    const ordered = orderEvents(events);
    expect(ordered[0]?.entry.module).toBe('old-destroy');
    expect(ordered[1]?.entry.module).toBe('m29');
    const notice = formatDriftNotice({ sweep: 's', at: 'now', events: ordered, counts: { drifted: 31 } });
    expect(notice.subject).toBe('tfstep: drift: 31 target(s) drifted');
    expect(notice.text.match(/DRIFTED/g)).toHaveLength(MAX_LISTED);
    expect(notice.text).toContain('delete r.old-destroy');
    expect(notice.text).toContain('... and 6 more target(s) (tfstep drift)');
  });
});
