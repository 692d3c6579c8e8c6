/**
 * Human approval of a stage: the request step stores the task token and sends each approver a
 * signed link; the pages, the CLI and the local prompt decide through one core.
 */
export { FunctionArtifactReader, S3ArtifactReader } from './artifacts';
export { mapLimit } from '../domain/concurrency';
export {
  AUTO_APPROVER,
  REJECTED_ERROR,
  approvalOutput,
  approvalsOf,
  decide,
  findApprovalForExecution,
  getApproval,
  isPusher,
  remainingApprovals,
  type DecideDeps,
  type DecideInput,
  type DecideResult,
} from './decide';
export { APPROVAL_ENV, APPROVAL_ENV_READS, createAwsApprovalDeps, type AwsApprovalClients, type AwsApprovalDeps } from './deps';
export * from './errors';
export { handleApprovalHttp, type ApprovalHttpDeps, type ApprovalHttpRequest, type ApprovalHttpResponse } from './http';
export { approverForCaller, parseCallerArn, type CallerIdentity } from './identity';
export { jsonLogger } from '../log';
export { APPROVER_ATTRIBUTE, MemoryApprovalNotifier, SnsApprovalNotifier } from './notifier';
export { createApprovalRequestHandler, newApprovalId, noticeText, type ApprovalRequestDeps, type ApprovalRequestResult } from './request';
export { SecretsManagerKeyProvider, StaticKeyProvider, buildLink, csrfToken, signLink } from './signing';
export { ApprovalStore, approvalKeys, type ApprovalPointer } from './store';
export { PromiseTaskTokenSender, RecordOnlyTaskTokenSender, SfnTaskTokenSender, TaskFailedError } from './task-token';
export * from './types';
export { waitForOutcome } from './wait';
export { createApprovalServer } from './server';
