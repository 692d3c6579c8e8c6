/**
 * The pipeline function: every state of statemachines/pipeline.asl.json except the approval
 * calls it with `{ action, ... }` (shapes in lib/statemachine/contracts.ts), and the execution
 * status change rule sends it the Step Functions event of an execution that ended FAILED,
 * TIMED_OUT or ABORTED (./execution-ended.ts). The Lambda handler
 * (lambdas/pipeline/index.ts) and the local mode both build {@link PipelineDeps} and call
 * {@link createPipelineHandler}.
 *
 * Local mode:
 * ```ts
 * const handler = createPipelineHandler({
 *   config,
 *   store: RunStore.fromClient(dynaliteClient, 'tfstep-runs'),     // after createRunTable(...)
 *   artifacts: folderArtifacts(dir).store,                          // lib/local/engine/artifacts.ts
 *   repoReader: () => new GitRepoReader(repoDir),
 *   executions: { isRunning: async (id) => running.has(id) },
 *   tasks: { sendSuccess: async (token, output) => engine.tokens.sendSuccess(token, output) },
 *   notifier: { publish: async (subject, text) => console.log(text) },
 *   clock: () => new Date(),
 *   logger,
 * });
 * ```
 */
import { formatPath } from '../config/parse';
import { admit } from './admit';
import { checkLease } from './check-lease';
import { classifyFailure } from './classify-failure';
import { EXECUTION_STATUS_CHANGE, ExecutionStatusChangeSchema, PipelineRequestSchema } from '../statemachine/contracts';
import type { PipelineDeps } from './deps';
import { InvalidRequestError } from './errors';
import { executionEnded } from './execution-ended';
import { finish } from './finish';
import { isPlanOnlyAction, planOnlyAction } from './plan-only';
import { FLEET_REFRESH_ACTION, refreshFleet } from './fleet';
import { enqueue } from './queue';
import { recordAccount } from './record-account';
import { stageComplete } from './stage-complete';
import { targets } from './targets';
import { startWaves } from './waves';

export type { ArtifactGetter, ArtifactStore, ExecutionTracker, Notifier, PipelineDeps, PipelineLogger, TaskTokenCallback } from './deps';

/** A function answering one state's payload. */
export type PipelineHandler = (payload: unknown) => Promise<unknown>;

/**
 * Creates the pipeline function. A payload that is not a known action is refused with an
 * {@link InvalidRequestError} naming what was wrong; other errors propagate so the state machine
 * can retry (Lambda service errors) or catch them (everything else fails the run).
 */
export function createPipelineHandler(deps: PipelineDeps): PipelineHandler {
  return async (payload) => {
    if (payload && typeof payload === 'object' && 'source' in payload && payload.source === EXECUTION_STATUS_CHANGE.source) {
      const event = ExecutionStatusChangeSchema.safeParse(payload);
      if (!event.success) {
        const problems = event.error.issues.map((i) => `${formatPath(i.path) || '(top level)'}: ${i.message}`).join('; ');
        throw new InvalidRequestError(`an aws.states event the pipeline function cannot handle: ${problems}; expected a "${EXECUTION_STATUS_CHANGE.detailType}" event`);
      }
      return executionEnded(event.data, deps);
    }
    if (payload && typeof payload === 'object' && 'action' in payload && payload.action === FLEET_REFRESH_ACTION) {
      // Sent by the fleet schedule, not by the state machine.
      if (!deps.organizations) throw new InvalidRequestError('a fleet refresh was asked for, but the config has no fleet.organizations to read');
      return refreshFleet({ config: deps.config, store: deps.store, reader: deps.organizations.reader(), from: deps.organizations.from, clock: deps.clock, logger: deps.logger });
    }
    // Steps of the plan-only state machine (drift sweeps, pull-request plans): ./plan-only.ts.
    if (isPlanOnlyAction(payload)) return planOnlyAction(payload, deps);
    const parsed = PipelineRequestSchema.safeParse(payload);
    if (!parsed.success) {
      const action = payload && typeof payload === 'object' && 'action' in payload ? JSON.stringify(payload.action) : '(none)';
      const problems = parsed.error.issues.map((i) => `${formatPath(i.path) || '(top level)'}: ${i.message}`).join('; ');
      throw new InvalidRequestError(
        `pipeline function payload with action ${action} is invalid: ${problems}; expected one of admit, enqueue, targets, check-lease, record-account, classify-failure, stage-complete, start-waves, finish with the fields in lib/statemachine/contracts.ts`,
      );
    }
    const req = parsed.data;
    switch (req.action) {
      case 'admit':
        return admit(req, deps);
      case 'targets':
        return targets(req, deps);
      case 'check-lease':
        return checkLease(req, deps);
      case 'record-account':
        return recordAccount(req, deps);
      case 'classify-failure':
        return classifyFailure(req);
      case 'stage-complete':
        return stageComplete(req, deps);
      case 'finish':
        return finish(req, deps);
      case 'enqueue':
        return enqueue(req, deps);
      case 'start-waves':
        return startWaves(req, deps);
    }
  };
}
