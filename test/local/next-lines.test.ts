/** What `tfstep local run`, `local replay` and `local serve` say goes on after a run. */
import { nextLines } from '../../lib/local/ui/run';
import type { LocalRunResult } from '../../lib/local/engine/session';

/** The parts of a run's result the hints read. */
function resultOf(status: LocalRunResult['status'], output: unknown = {}): LocalRunResult {
  return { status, report: { executionName: 'local-1' }, execution: { output } } as unknown as LocalRunResult;
}

describe('the next steps after a local run', () => {
  it.each(['FAILED', 'REJECTED', 'ABORTED', 'EXPIRED'] as const)('names the replay and the logs after a %s run, with the state directory', (status) => {
    expect(nextLines(resultOf(status), ' --state-dir /srv/tfstep')).toEqual(['next: tfstep local replay local-1 --state-dir /srv/tfstep', 'next: tfstep logs local-1 --local --state-dir /srv/tfstep']);
  });

  it('names the run that carries a DUPLICATE push', () => {
    const result = resultOf('DUPLICATE', { run: { value: { decision: 'DUPLICATE', carriedBy: 'local-0' } } });
    expect(nextLines(result)).toEqual(['this commit is already deployed by run local-0; next: tfstep show local-0 --local']);
  });

  it('says nothing more after a run that succeeded', () => {
    expect(nextLines(resultOf('SUCCEEDED'))).toEqual([]);
  });
});
