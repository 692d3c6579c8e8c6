/**
 * The audit trail: one record per decision (approve, reject), override, apply and redrive,
 * appended and never changed. Pure: the record's shape, its key, filtering and the text line.
 * The stores are in lib/audit (an S3 bucket with Object Lock in AWS, a JSON-lines file in the
 * local mode).
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * What happened. `refused`: a decision tfstep did not accept from an identified person (not an
 * approver, approving their own push, approving or overriding a deny without being a policy
 * owner); `detail` says why, `decision` and `override` what was tried.
 */
export const AuditKindSchema = z.enum(['decision', 'override', 'refused', 'apply', 'redrive']);
export type AuditKind = z.infer<typeof AuditKindSchema>;

/**
 * Through which channel: the approval link, the CLI with AWS credentials, the local mode, or
 * the pipeline itself (an apply is made by the state machine after the approval).
 */
export const AuditChannelSchema = z.enum(['link', 'cli', 'local', 'pipeline']);
export type AuditChannel = z.infer<typeof AuditChannelSchema>;

/** One plan the record is about: which plan file, by its SHA-256. */
export const AuditPlanSchema = z.object({
  account: z.string(),
  module: z.string(),
  sha256: z.string(),
  /** Apply records: what became of the module (`applied`, `failed`, ...). */
  status: z.string().optional(),
});
export type AuditPlan = z.infer<typeof AuditPlanSchema>;

/** One audit record, as stored. */
export const AuditRecordSchema = z.object({
  version: z.literal(1),
  /** Unique per record; the key of the stored object ends with it. */
  id: z.string().min(1).max(100),
  kind: AuditKindSchema,
  /** ISO 8601 time, UTC. */
  at: z.string(),
  /** The approver, the caller's identity, or `pipeline` for an apply. */
  who: z.string().min(1),
  channel: AuditChannelSchema,
  /** The execution name. */
  run: z.string().min(1),
  stage: z.string().optional(),
  repository: z.string().optional(),
  branch: z.string().optional(),
  commit: z.string().optional(),
  /** The accounts concerned. */
  accounts: z.array(z.string()).default([]),
  /** The plans concerned, by SHA-256 of the plan file. */
  plans: z.array(AuditPlanSchema).default([]),
  /**
   * Decisions: the SHA-256 of the approved item list, which holds every approved plan's SHA-256
   * (also those of accounts a large stage does not list in `plans`).
   */
  itemsSha256: z.string().optional(),
  approvalId: z.string().optional(),
  decision: z.enum(['approve', 'reject']).optional(),
  comment: z.string().optional(),
  /**
   * Decisions: every approval counted once this decision was recorded (who, when, through
   * which channel). The decision that completes an approval names all who let the apply go on.
   */
  approvals: z.array(z.object({ approver: z.string(), at: z.string(), via: z.string() })).optional(),
  /** A policy owner's override of a denying policy, with its reason. */
  override: z.object({ reason: z.string() }).passthrough().optional(),
  /** Policy results as evaluated for the plans (pass, warn, deny with their messages). */
  policy: z.array(z.unknown()).optional(),
  /** Apply: whether the account's apply succeeded; redrive: `redrive` or `start`. */
  outcome: z.string().optional(),
  /** A short explanation (the failure reason of an apply, the replay's reason). */
  detail: z.string().optional(),
});
export type AuditRecord = z.infer<typeof AuditRecordSchema>;
export type NewAuditRecord = Omit<z.input<typeof AuditRecordSchema>, 'version' | 'id' | 'at'> & { readonly at?: string; readonly id?: string };

/** Appends records; never overwrites or deletes one. */
export interface AuditWriter {
  append(record: AuditRecord): Promise<void>;
}

/** What `tfstep audit` filters on. */
export interface AuditQuery {
  /** Only records at or after this time. */
  readonly since?: Date;
  /** Only records concerning this account (by name). */
  readonly account?: string;
}

/** Reads records back, oldest first. */
export interface AuditReader {
  list(query: AuditQuery): Promise<AuditRecord[]>;
}

/** The prefix every record's key starts with in the audit bucket. */
export const AUDIT_PREFIX = 'records/';

/** The id prefix of an account apply's record, whose id is a hash of what it records (lib/pipeline/record-account.ts). */
export const APPLY_RECORD_ID_PREFIX = 'apply-';

/**
 * A complete record: version, a fresh id and the time filled in.
 * @throws ZodError when a field has the wrong shape
 */
export function auditRecord(fields: NewAuditRecord, now: Date = new Date()): AuditRecord {
  const { at, id, ...rest } = fields;
  return AuditRecordSchema.parse({ version: 1, id: id ?? randomUUID(), at: at ?? now.toISOString(), ...rest });
}

/**
 * The key of a record: `records/<time>_<id>.json`. Time first, so keys list in time order and
 * `--since` becomes the listing's StartAfter; the id makes every key new, so an append never
 * replaces another record.
 */
export function auditKey(record: Pick<AuditRecord, 'at' | 'id'>): string {
  return `${AUDIT_PREFIX}${record.at}_${record.id}.json`;
}

/** The key every record at or after `since` sorts after (ListObjectsV2 StartAfter). */
export function auditStartAfter(since: Date): string {
  // '_' sorts after every character of an ISO time, so keys of the same millisecond are kept.
  return `${AUDIT_PREFIX}${new Date(since.getTime() - 1).toISOString()}_~`;
}

/** Whether the record matches the query. */
export function matchesAudit(record: AuditRecord, query: AuditQuery): boolean {
  if (query.since && Date.parse(record.at) < query.since.getTime()) return false;
  if (query.account !== undefined && !record.accounts.includes(query.account) && !record.plans.some((p) => p.account === query.account)) return false;
  return true;
}

/** Records matching the query, oldest first. */
export function filterAudit(records: readonly AuditRecord[], query: AuditQuery): AuditRecord[] {
  return records.filter((r) => matchesAudit(r, query)).sort((a, b) => (a.at === b.at ? a.id.localeCompare(b.id) : a.at.localeCompare(b.at)));
}

/**
 * Parses `--since`: an ISO date or time (`2026-01-31`, `2026-01-31T12:00:00Z`) or a duration
 * back from now (`30m`, `12h`, `7d`).
 * @throws Error saying what was expected
 */
export function parseSince(text: string, now: Date = new Date()): Date {
  const rel = /^(\d+)([mhd])$/.exec(text.trim());
  if (rel) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 'm' | 'h' | 'd'];
    return new Date(now.getTime() - Number(rel[1]) * unit);
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const parsed = Date.parse(text.trim());
    if (!Number.isNaN(parsed)) return new Date(parsed);
  }
  throw new Error(`--since ${JSON.stringify(text)}: expected a date (2026-01-31), a time (2026-01-31T12:00:00Z) or a duration back from now (30m, 12h, 7d)`);
}

const short = (sha: string | undefined) => (sha ? sha.slice(0, 12) : '-');

/** One line of `tfstep audit`. */
export function formatAuditLine(r: AuditRecord): string {
  const what =
    r.kind === 'decision'
      ? `${r.decision === 'reject' ? 'rejected' : 'approved'}`
      : r.kind === 'override'
        ? `overrode${r.override ? ` ("${r.override.reason}")` : ''}`
        : r.kind === 'refused'
          ? `was refused ${r.override ? 'an override' : r.decision === 'reject' ? 'a rejection' : 'an approval'} (${r.detail ?? 'refused'})`
          : r.kind === 'apply'
            ? `applied (${r.outcome ?? 'unknown'})`
            : `redrove (${r.outcome ?? 'redrive'})`;
  const where = [r.run, r.stage ? `stage ${r.stage}` : undefined, r.commit ? `commit ${short(r.commit)}` : undefined].filter(Boolean).join(', ');
  const plans = r.plans.length > 0 ? `; plans ${r.plans.map((p) => `${p.account}/${p.module}@${short(p.sha256)}`).join(' ')}` : '';
  const comment = r.comment ? ` "${r.comment}"` : '';
  return `${r.at}  ${r.who} via ${r.channel} ${what}${comment}  ${where}${plans}`;
}
