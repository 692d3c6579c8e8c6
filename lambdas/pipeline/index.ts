import { jsonLogger } from '../../lib/log';
import { createAwsPipelineDeps } from '../../lib/pipeline/aws-deps';
import type { PipelineDeps, PipelineLogger } from '../../lib/pipeline/deps';
import { createPipelineHandler, type PipelineHandler } from '../../lib/pipeline/handler';

/**
 * Creates the pipeline function's handler. Dependencies are built on the first invocation and
 * kept while the execution environment lives. A build failure (a missing variable, an invalid
 * config) is thrown on every invocation with its reason, so the state machine fails the run with
 * a message that says what to fix.
 */
export function createHandler(env: Readonly<Record<string, string | undefined>> = process.env, logger: PipelineLogger = jsonLogger()): PipelineHandler {
  let handle: PipelineHandler | undefined;
  return async (event) => {
    if (!handle) {
      let deps: PipelineDeps;
      try {
        deps = createAwsPipelineDeps(env, logger);
      } catch (err) {
        logger.error('pipeline function is misconfigured', { error: err });
        throw err;
      }
      handle = createPipelineHandler(deps);
    }
    return handle(event);
  };
}

/** The pipeline function: invoked by the state machine with `{ action, ... }`. */
export const handler: PipelineHandler = createHandler();
