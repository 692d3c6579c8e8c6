/**
 * Reading the execution input: the EventBridge envelope with the canonical push, plus the replay
 * marker a replayed execution carries.
 */
import { z } from 'zod';
import { formatPath } from '../config/parse';
import type { Config, RepositoryConfig } from '../config/schema';
import { PipelineInputSchema, type PushEvent } from '../domain/push-event';
import { InvalidRequestError, UnknownRepositoryError } from './errors';

/**
 * The field a replay adds to the original input (`{ ..., "tfstep": { "replayOf": "<execution>" } }`).
 * The envelope schema lets extra fields through, so the rest of the system ignores it.
 */
export const REPLAY_FIELD = 'tfstep';
export const ReplayMarkerSchema = z.object({ replayOf: z.string().min(1).max(80) }).passthrough();

/** The validated push and replay marker of an execution input. */
export interface ParsedInput {
  readonly push: PushEvent;
  readonly replayOf?: string;
}

/** Validates the execution input; throws {@link InvalidRequestError} saying what was wrong. */
export function parseExecutionInput(input: unknown): ParsedInput {
  const parsed = PipelineInputSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${formatPath(i.path) || '(top level)'}: ${i.message}`).join('; ');
    throw new InvalidRequestError(`the execution input is not a tfstep push event (source tfstep.git, detail-type "Git Push", detail = canonical push): ${problems}`);
  }
  const marker = (parsed.data as Record<string, unknown>)[REPLAY_FIELD];
  const replay = marker === undefined ? undefined : ReplayMarkerSchema.safeParse(marker);
  if (replay && !replay.success) throw new InvalidRequestError(`the execution input field "${REPLAY_FIELD}" must be { "replayOf": "<execution name>" }`);
  return { push: parsed.data.detail, replayOf: replay?.data.replayOf };
}

/** The configured repository of a push; throws {@link UnknownRepositoryError} for others and for other branches. */
export function repositoryOf(config: Config, push: PushEvent): RepositoryConfig {
  const repo = config.repositories.find((r) => r.fullName.toLowerCase() === push.repository.fullName.toLowerCase());
  if (!repo) {
    throw new UnknownRepositoryError(
      `repository ${push.repository.fullName} is not in the config; expected one of ${config.repositories.map((r) => r.fullName).join(', ')}`,
    );
  }
  if (push.branch !== repo.deployBranch) {
    throw new UnknownRepositoryError(`branch ${push.branch} of ${repo.fullName} does not deploy; only ${repo.deployBranch} does`);
  }
  return repo;
}
