/**
 * The shape of bench/results.json. The first fields of each section are the stable ones other
 * documents quote; the rest explain them.
 */
import { z } from 'zod';

const n = z.number().finite();

/** The largest value of one AWS limit against the limit. */
const LimitUseSchema = z.object({ max: n, limit: n, at: z.string().optional() });

/** Every AWS limit the run met (lib/domain/aws-limits.ts). */
export const LimitsSchema = z.object({
  runTaskOverridesChars: LimitUseSchema,
  statePayloadBytes: LimitUseSchema,
  historyEvents: LimitUseSchema,
  dynamoItemBytes: LimitUseSchema,
  snsMessageBytes: LimitUseSchema,
  eventBridgeEntryBytes: LimitUseSchema,
  ssmParameterBytes: LimitUseSchema,
});

/** One fan-out size. */
export const FanoutEntrySchema = z.object({
  accounts: z.number().int().min(1),
  wallMs: n,
  overheadMsPerAccount: n,
  transitions: z.number().int(),
  historyEvents: z.number().int(),
  costUsd: n,
  peakRssMb: n,
  parentHistoryEvents: z.number().int(),
  childExecutions: z.number().int(),
  largestChildHistoryEvents: z.number().int(),
  status: z.enum(['completed', 'time-limit']),
  accountsRecorded: z.number().int(),
  concurrency: z.number().int(),
  runnerMs: n,
  rssBeforeRunMb: n,
  largestPayloadBytes: z.number().int(),
  setupMs: n,
  runRecordBytes: z.number().int(),
  limits: LimitsSchema,
});

/** One run of the waves row. */
const WavesRunSchema = z.object({
  accountsStarted: z.number().int(),
  status: z.string(),
  reason: z.string(),
  wallMs: n,
  transitions: z.number().int(),
  parentHistoryEvents: z.number().int(),
  costUsd: n,
});

/** The waves row: a failing canary stops the stage after its first wave; the baseline has no waves. */
export const WavesEntrySchema = z.object({
  accounts: z.number().int(),
  waveSizes: z.array(z.number().int()),
  failedAccount: z.string(),
  waves: WavesRunSchema,
  baseline: WavesRunSchema,
  startedRatio: n,
});

/** The drift row (bench/drift.ts). */
export const DriftEntrySchema = z.object({
  accounts: z.number().int(),
  targets: z.number().int(),
  clean: z.number().int(),
  wallMs: n,
  transitions: z.number().int(),
  historyEvents: z.number().int(),
  childExecutions: z.number().int(),
  costUsd: n,
  push: z.object({ transitions: z.number().int(), historyEvents: z.number().int(), costUsd: n }),
});

/** The results file. */
export const BenchResultsSchema = z.object({
  /** A drift sweep over 1,000 accounts, next to the push that applied them. */
  drift: DriftEntrySchema.optional(),
  fanout: z.array(FanoutEntrySchema),
  /** The largest value of each AWS limit over every fan-out size. */
  limits: LimitsSchema,
  makespan: z.object({
    accounts: z.number().int(),
    parallelS: n,
    sequentialS: n,
    ratio: n,
    concurrency: z.number().int(),
    listScheduleS: n,
    longestTaskS: n,
    seed: z.number().int(),
    model: z.object({ startMinS: n, startMaxS: n, applyMedianS: n, applySigma: n }),
    transitions: z.number().int(),
    costUsd: n,
    realMs: n,
  }),
  webhook: z.object({
    p50Ms: n,
    p99Ms: n,
    bundleBytes: z.number().int(),
    coldInitMs: n,
    bundleBytesWithSdk: z.number().int(),
    coldInitMsWithSdk: n,
    payloadBytes: z.number().int(),
    iterations: z.number().int(),
  }),
  /** Rollout waves with a failure injected in the first wave (absent from results made before waves). */
  waves: WavesEntrySchema.optional(),
  /** The dashboard's run page for a run of many accounts (absent from results made before it). */
  dashboard: z
    .object({ accounts: z.number().int(), renderMs: n, renderRunsMs: z.array(n), readMs: n, htmlBytes: z.number().int(), goalMs: n, blocks: z.object({ blocksMs: n, flatMs: n, ratio: n }).optional() })
    .optional(),
  /** A run queued behind another for days: it waits on a callback, not a poll. */
  queued: z.object({
    holderS: n,
    admittedAfterS: n,
    waits: z.number().int(),
    heartbeatTimeouts: z.number().int(),
    wakeUps: z.number().int(),
    queuedHistoryEvents: z.number().int(),
    historyBudget: z.number().int(),
    queuedTransitions: z.number().int(),
    queuedCostUsd: n,
  }),
  meta: z.object({
    date: z.string(),
    commit: z.string(),
    node: z.string(),
    cpus: z.number().int(),
    cpuModel: z.string(),
    memoryGiB: n,
    fanoutTimeLimitS: n.nullable(),
    durationS: n,
  }),
});

export type BenchResults = z.infer<typeof BenchResultsSchema>;
