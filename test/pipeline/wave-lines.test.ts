import { runNotification, waveLines } from '../../lib/pipeline/finish';
import type { RunRecord } from '../../lib/store/run-store';

const outcome = (account: string, ok: boolean) => ({ account, ok, phase: 'plan-and-apply' as const, modules: [] });

describe('run notification waves', () => {
  it('says wave by wave how many accounts ran, which failed and how many never started', () => {
    // GIVEN prod in two waves: the canary failed, the three others never started
    const run: Pick<RunRecord, 'stages' | 'accounts'> = {
      stages: [
        { name: 'dev', accounts: [{ name: 'dev', modules: ['dev/app'] }] },
        {
          name: 'prod',
          accounts: [
            { name: 'prod-1', modules: ['a'], wave: 0 },
            { name: 'prod-2', modules: ['a'], wave: 1 },
            { name: 'prod-3', modules: ['a'], wave: 1 },
            { name: 'prod-4', modules: ['a'], wave: 1 },
          ],
        },
      ],
      accounts: { dev: outcome('dev', true), 'prod-1': outcome('prod-1', false) },
    };
    // WHEN the lines are made THEN only the stage with waves is listed
    expect(waveLines(run)).toEqual(['stage prod in 2 waves:', '  - wave 1: 1 of 1 account(s) ran; failed: prod-1', '  - wave 2: 0 of 3 account(s) ran; 3 never started']);
    // AND the failure notification carries them
    const n = runNotification({ execution: 'e', executionId: 'e', status: 'FAILED', reason: 'stage prod wave 1 of 2: failed', run: { ...run, removed: [] } as unknown as RunRecord });
    expect(n.text).toContain('  - wave 2: 0 of 3 account(s) ran; 3 never started');
  });

  it('lists no waves for stages that ran in one', () => {
    expect(waveLines({ stages: [{ name: 'dev', accounts: [{ name: 'dev', modules: ['x'] }] }], accounts: {} })).toEqual([]);
  });
});
