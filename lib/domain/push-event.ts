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
        cloneUrls: z.array(z.string().min(1).max(2048)).min(1),
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
        paths: z.array(z.string().min(1).max(4096)),
      })
      .strict(),
    pusher: z.string().min(1).max(320),
    headCommit: z
      .object({
        message: z.string().max(65536),
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
