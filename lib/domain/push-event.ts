import { z } from 'zod';

/** A full 40-hex git commit SHA. */
export const CommitShaSchema = z.string().regex(/^[0-9a-f]{40}$/, 'a full 40-character hex commit SHA');

/** The all-zero SHA git hosts send for a created (before) or deleted (after) branch. */
export const ZERO_SHA = '0000000000000000000000000000000000000000';

/** The EventBridge source and detail-type of the canonical event. */
export const PUSH_EVENT_SOURCE = 'tfstep.git';
export const PUSH_EVENT_DETAIL_TYPE = 'Git Push';
export const EVENT_BUS_NAME = 'tfstep';

/**
 * What a push may carry into the execution input, as JSON-encoded UTF-8 bytes. The execution's
 * state holds the input plus what the states add, and Step Functions fails a state over 256 KiB
 * with States.DataLimitExceeded, which no Catch catches; EventBridge entries stop at 256 KB too.
 * With these budgets the largest push stays under 100 KiB, whatever its paths or message.
 * https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html (payload size)
 */
export const PUSH_BUDGET = {
  /** The changed paths; a longer list is dropped and the push marked incomplete (targets reads git). */
  pathsJsonBytes: 64 * 1024,
  /** The head commit message; a longer one is cut. */
  messageJsonBytes: 16 * 1024,
  /** All clone URLs together. */
  cloneUrlsJsonBytes: 8 * 1024,
} as const;

/** The bytes of a value once JSON-encoded (escapes included), as the execution input carries it. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8');
}

/** The message cut (on a character boundary) to fit {@link PUSH_BUDGET.messageJsonBytes}, with a marker when cut. */
export function boundCommitMessage(message: string): string {
  if (jsonBytes(message) <= PUSH_BUDGET.messageJsonBytes) return message;
  const marker = ' [truncated]';
  const chars = [...message];
  // Binary search the longest prefix whose JSON fits with the marker.
  let lo = 0;
  let hi = chars.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (jsonBytes(chars.slice(0, mid).join('') + marker) <= PUSH_BUDGET.messageJsonBytes) lo = mid;
    else hi = mid - 1;
  }
  return chars.slice(0, lo).join('') + marker;
}

/** The paths when they fit {@link PUSH_BUDGET.pathsJsonBytes}, else undefined (the push is then incomplete). */
export function boundChangedPaths(paths: readonly string[]): string[] | undefined {
  return jsonBytes(paths) <= PUSH_BUDGET.pathsJsonBytes ? [...paths] : undefined;
}

/**
 * The canonical push: the only shape the rest of the system sees. The webhook produces it
 * from GitHub or GitLab payloads, the local mode from a git repository.
 */
export const PushEventSchema = z
  .object({
    provider: z.enum(['github', 'gitlab', 'local']),
    /** The git host's delivery id (GitHub `X-GitHub-Delivery`, GitLab `X-Gitlab-Event-UUID`). */
    deliveryId: z.string().min(1).max(200),
    repository: z
      .object({
        /** `owner/name`, as in the config. */
        fullName: z.string().min(1).max(300),
        cloneUrls: z
          .array(z.string().min(1).max(2048))
          .min(1)
          .refine((urls) => jsonBytes(urls) <= PUSH_BUDGET.cloneUrlsJsonBytes, `clone URLs of at most ${PUSH_BUDGET.cloneUrlsJsonBytes} bytes in all`),
      })
      .strict(),
    /** `refs/heads/<branch>`. */
    ref: z.string().regex(/^refs\/heads\/.+/, 'a branch ref such as refs/heads/main'),
    branch: z.string().min(1).max(255),
    /** The previous head; all zeros for a created branch. */
    before: CommitShaSchema,
    after: CommitShaSchema,
    changes: z
      .object({
        /** false when the payload cannot be trusted to list every changed path. */
        complete: z.boolean(),
        /** Repository-relative paths added, modified or removed between before and after. */
        paths: z
          .array(z.string().min(1).max(4096))
          .refine((paths) => jsonBytes(paths) <= PUSH_BUDGET.pathsJsonBytes, `changed paths of at most ${PUSH_BUDGET.pathsJsonBytes} bytes as JSON; a longer list is dropped and the push marked incomplete`),
      })
      .strict(),
    pusher: z.string().min(1).max(320),
    headCommit: z
      .object({
        message: z.string().refine((m) => jsonBytes(m) <= PUSH_BUDGET.messageJsonBytes, `a message of at most ${PUSH_BUDGET.messageJsonBytes} bytes as JSON; cut longer ones with boundCommitMessage`),
        url: z.string().max(2048).optional(),
      })
      .strict(),
    /** ISO 8601 time the webhook (or local mode) received the push. */
    receivedAt: z.iso.datetime(),
  })
  .strict()
  .superRefine((push, ctx) => {
    if (push.ref !== `refs/heads/${push.branch}`) {
      ctx.addIssue({ code: 'custom', path: ['branch'], message: `branch "${push.branch}" does not match ref "${push.ref}"` });
    }
    if (push.after === ZERO_SHA) {
      ctx.addIssue({ code: 'custom', path: ['after'], message: 'a deleted branch is not a deploy' });
    }
  });

export type PushEvent = z.infer<typeof PushEventSchema>;

/** The EventBridge envelope as the state machine receives it. */
export const PipelineInputSchema = z.object({
  source: z.literal(PUSH_EVENT_SOURCE),
  'detail-type': z.literal(PUSH_EVENT_DETAIL_TYPE),
  detail: PushEventSchema,
}).passthrough();

export type PipelineInput = z.infer<typeof PipelineInputSchema>;
