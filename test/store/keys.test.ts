import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { approvalKeys } from '../../lib/approval/store';
import { commitKey, fleetAccountKey, fleetRefreshKey, lockKey, moduleKey, outcomeKey, queueEntryKey, runKey, targetIndexKey, targetKeyOf } from '../../lib/store/keys';
import { deliveryKey } from '../../lib/webhook/deliveries';

/** The rows of the layout table in lib/store/keys.ts, as patterns over real keys. */
function documentedLayout(): { pk: RegExp; sk: RegExp; row: string }[] {
  const source = readFileSync(join(__dirname, '../../lib/store/keys.ts'), 'utf8');
  const rows = source.split('\n').filter((line) => /^ \* \| `/.test(line));
  const pattern = (cell: string) => {
    const text = cell.trim().replace(/^`|`$/g, '');
    const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/<[^>]+>/g, '.+');
    return new RegExp(`^${escaped}$`);
  };
  return rows.map((row) => {
    const [, pk = '', sk = ''] = row.split('|');
    return { pk: pattern(pk), sk: pattern(sk), row: row.trim() };
  });
}

describe('run table key layout', () => {
  it('documents every item kind that code writes to the run table', () => {
    // GIVEN every key builder of the run table's owners
    const keys: Record<string, { pk: string; sk: string }> = {
      run: runKey('exec-1'),
      module: moduleKey('exec-1', 'prod', 'network', 'apply'),
      outcome: outcomeKey('exec-1', 'prod', 'prod-eu'),
      target: targetKeyOf('acme/live', 'prod', 'network'),
      targetIndex: targetIndexKey('acme/live', 'prod', 'network'),
      queueEntry: queueEntryKey('acme/live', 'main', '2026-11-20T10:00:00.000Z#abc', 'exec-1'),
      lock: lockKey('acme/live', 'main'),
      commit: commitKey('acme/live', 'main', 'abc'),
      approval: approvalKeys.approval('ap-1'),
      approvalPointer: approvalKeys.pointer('exec-1', 'prod'),
      delivery: deliveryKey('github', 'd-1'),
      fleetAccount: fleetAccountKey('111111111111'),
      fleetRefresh: fleetRefreshKey(),
    };
    const layout = documentedLayout();
    // WHEN each key is looked up in the documented layout
    const undocumented = Object.entries(keys)
      .filter(([, key]) => !layout.some((row) => row.pk.test(key.pk) && row.sk.test(key.sk)))
      .map(([kind, key]) => `${kind}: ${key.pk} / ${key.sk}`);
    // THEN none is missing
    expect(layout.length).toBeGreaterThan(0);
    expect(undocumented).toEqual([]);
  });
});
