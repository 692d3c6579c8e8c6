/**
 * The plan-only definition reuses the pipeline's per-account work: its RunTerraform state is the
 * pipeline's, field for field, so a change to how a runner task starts is made in one place and
 * this test names the other.
 */
import { placeholdersIn, readPipelineDefinition, readPlanOnlyDefinition } from '../../lib/statemachine/definition';

type Json = Record<string, unknown>;
const pipeline = JSON.parse(readPipelineDefinition()) as Json;
const planOnly = JSON.parse(readPlanOnlyDefinition()) as Json;
const processorOf = (d: Json, map: string) => ((d.States as Json)[map] as Json).ItemProcessor as Json;

describe('the plan-only definition', () => {
  it('runs the runner task exactly as the pipeline does, except where it goes next', () => {
    const theirs = (processorOf(pipeline, 'Accounts').States as Json).RunTerraform as Json;
    const ours = (processorOf(planOnly, 'Accounts').States as Json).RunTerraform as Json;
    const { Next: _n1, Catch: _c1, ...a } = theirs;
    const { Next: _n2, Catch: _c2, ...b } = ours;
    expect(b).toEqual(a);
  });

  it('never approves, never takes a branch and never applies: no approval function, no queue step', () => {
    const text = readPlanOnlyDefinition();
    expect([...placeholdersIn(text)].sort()).toEqual(['Partition', 'PipelineFunctionArn', 'RunnerContainerName']);
    for (const action of ['admit', 'enqueue', 'check-lease', 'record-account', 'finish', 'start-waves']) expect(text).not.toContain(`"action": "${action}"`);
    expect(text).not.toContain('waitForTaskToken');
  });
});
