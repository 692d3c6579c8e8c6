/**
 * The benchmark's figures of cost and weight in AWS come from the same estimator the local
 * engine counts history with: lib/statemachine/history.ts.
 */
export {
  AWS_HISTORY_EVENTS,
  AWS_HISTORY_LIMIT,
  AWS_PAYLOAD_LIMIT_BYTES,
  HistoryCounter,
  TRANSITIONS_PER_CHILD_EXECUTION,
  USD_PER_TRANSITION,
  costUsd,
  estimateExecution,
  largestPayloadBytes,
  type ExecutionEstimate,
} from '../lib/statemachine/history';
