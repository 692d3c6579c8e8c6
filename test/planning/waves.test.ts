import fc from 'fast-check';
import { assignWaves, decideAfterWave, rolloutOrder, toleratedCount, waveMembership, waveSizes, type WaveSpec } from '../../lib/planning/waves';

const names = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/), { minLength: 0, maxLength: 60 });
const spec: fc.Arbitrary<WaveSpec> = fc.oneof(fc.record({ accounts: fc.integer({ min: 1, max: 80 }) }), fc.record({ percent: fc.integer({ min: 1, max: 100 }) }));
const specs = fc.array(spec, { minLength: 0, maxLength: 5 }).map((s) => [...s, { percent: 100 }]);

describe('wave membership', () => {
  it('partitions the stage accounts: every account in exactly one wave, no wave empty', () => {
    fc.assert(
      fc.property(names, specs, fc.nat(3), (accounts, waves, canaryCount) => {
        const canaries = accounts.slice(0, canaryCount);
        const result = assignWaves('prod', accounts, { waves, canaries });
        const flat = result.flat();
        expect([...flat].sort()).toEqual([...accounts].sort());
        expect(new Set(flat).size).toBe(flat.length);
        for (const w of result) expect(w.length).toBeGreaterThan(0);
        // canaries go first, all of them in the first wave
        if (canaries.length > 0) expect(result[0]!.slice(0, canaries.length)).toEqual(canaries);
      }),
    );
  });

  it('is stable under reordering of the input', () => {
    fc.assert(
      fc.property(
        names.chain((a) => fc.tuple(fc.constant(a), fc.shuffledSubarray(a, { minLength: a.length, maxLength: a.length }))),
        specs,
        ([accounts, shuffled], waves) => {
          expect(assignWaves('prod', shuffled, { waves })).toEqual(assignWaves('prod', accounts, { waves }));
        },
      ),
    );
  });

  it('gives wave sizes matching cumulative targets: 1 account, then up to 10%, then the rest', () => {
    // GIVEN 200 accounts and waves [1 account, 10%, 100%]
    // THEN the first wave has 1, the second brings the total to 20, the third the other 180
    expect(waveSizes(200, [{ accounts: 1 }, { percent: 10 }, { percent: 100 }])).toEqual([1, 19, 180]);
    // 10% of 5 accounts rounds up to 1, already reached by the first wave: that wave is dropped
    expect(waveSizes(5, [{ accounts: 1 }, { percent: 10 }, { percent: 100 }])).toEqual([1, 4]);
    // no waves: one wave of everything (today's behaviour)
    expect(waveSizes(7, undefined)).toEqual([7]);
    // the first wave holds at least every canary
    expect(waveSizes(10, [{ accounts: 1 }, { percent: 100 }], 3)).toEqual([3, 7]);
  });

  it('puts canaries first in their named order, and orders the rest by hash, per stage', () => {
    const accounts = Array.from({ length: 20 }, (_, i) => `acct-${i}`);
    const order = rolloutOrder('prod', accounts, ['acct-7', 'acct-3', 'missing']);
    expect(order.slice(0, 2)).toEqual(['acct-7', 'acct-3']);
    expect(order).toHaveLength(20);
    // another stage orders the same names differently
    expect(rolloutOrder('dev', accounts)).not.toEqual(rolloutOrder('prod', accounts));
  });

  it('answers each account its stage, wave and wave count', () => {
    const m = waveMembership(
      [
        { name: 'a', stage: 'prod' },
        { name: 'b', stage: 'prod' },
        { name: 'c', stage: 'dev' },
      ],
      { prod: { waves: [{ accounts: 1 }, { percent: 100 }], canaries: ['b'] } },
    );
    expect(m.get('b')).toEqual({ stage: 'prod', wave: 0, waves: 2 });
    expect(m.get('a')).toEqual({ stage: 'prod', wave: 1, waves: 2 });
    expect(m.get('c')).toEqual({ stage: 'dev', wave: 0, waves: 1 });
  });
});

describe('failure budget', () => {
  it('tolerates nothing by default: one failure stops the stage', () => {
    expect(decideAfterWave({ wave: 0, waveCount: 3, failed: 1, total: 100 })).toEqual({ kind: 'stop', tolerated: 0, failed: 1 });
  });

  it('goes on to the next wave while failures stay within the budget', () => {
    expect(decideAfterWave({ wave: 0, waveCount: 3, failed: 2, total: 100, budget: { count: 2 } })).toEqual({ kind: 'next', nextWave: 1, tolerated: 2, failed: 2 });
    expect(decideAfterWave({ wave: 1, waveCount: 3, failed: 3, total: 100, budget: { count: 2 } }).kind).toBe('stop');
  });

  it('is done after the last wave within the budget', () => {
    expect(decideAfterWave({ wave: 2, waveCount: 3, failed: 0, total: 100 })).toEqual({ kind: 'done', tolerated: 0, failed: 0 });
  });

  it('takes a percentage of the stage accounts, rounded down', () => {
    expect(toleratedCount({ percent: 5 }, 1000)).toBe(50);
    expect(toleratedCount({ percent: 5 }, 39)).toBe(1);
    expect(toleratedCount({ percent: 10 }, 30)).toBe(3);
    expect(toleratedCount(undefined, 1000)).toBe(0);
    expect(decideAfterWave({ wave: 0, waveCount: 2, failed: 51, total: 1000, budget: { percent: 5 } }).kind).toBe('stop');
  });
});
