import { PassThrough } from 'node:stream';
import { RunTracker } from '../../lib/local/engine/tracker';
import { ProgressView, renderLines } from '../../lib/local/ui/progress';

/** Everything a plain (not a terminal) progress view wrote. */
function plainView(tracker: RunTracker): { text: () => string } {
  const out = new PassThrough();
  let text = '';
  out.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  new ProgressView(tracker, out, false).start();
  return { text: () => text };
}

describe('local progress', () => {
  it('says why a stage plans again after its apply, instead of calling it succeeded', () => {
    // GIVEN prod applied network, and app's plan changed after network applied
    const tracker = new RunTracker('arn:exec', 'local-1');
    const view = plainView(tracker);
    tracker.onTargets([{ name: 'prod', accounts: [{ name: 'prod', modules: ['prod/app', 'prod/network'] }] }]);
    tracker.onAccountOutcome({
      account: 'prod',
      ok: true,
      phase: 'apply',
      modules: [
        { path: 'prod/app', status: 'awaiting-approval' },
        { path: 'prod/network', status: 'applied' },
      ],
    });
    // WHEN the stage gate answers with a re-plan round
    tracker.onStageComplete('prod', 'apply', false, true);
    // THEN the stage is planning again, with the reason, and not succeeded
    expect(view.text()).toContain('stage prod: planning again: plans changed after their upstream modules applied, so they are planned and approved again\n');
    expect(view.text()).not.toContain('stage prod: succeeded');
    expect(tracker.report().stages[0]?.status).toBe('planning again');
    expect(renderLines(tracker.report())).toContain('  ↻ stage prod: planning again');
  });

  it('calls a stage succeeded after an apply that held nothing back', () => {
    const tracker = new RunTracker('arn:exec', 'local-1');
    const view = plainView(tracker);
    tracker.onTargets([{ name: 'dev', accounts: [{ name: 'dev', modules: ['dev/app'] }] }]);
    tracker.onAccountOutcome({ account: 'dev', ok: true, phase: 'plan-and-apply', modules: [{ path: 'dev/app', status: 'applied' }] });
    tracker.onStageComplete('dev', 'plan-and-apply', false);
    expect(view.text()).toContain('stage dev: succeeded\n');
  });
});
