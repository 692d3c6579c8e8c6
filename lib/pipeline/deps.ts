/**
 * What the pipeline function needs from the outside world. The Lambda handler
 * (lambdas/pipeline/index.ts) builds AWS implementations; the local mode passes dynalite, a folder
 * of artifacts, the git CLI and its own execution tracking; tests pass in-memory ones.
 */
import type { Config } from '../config/schema';
import type { AuditChannel, AuditWriter } from '../domain/audit';
import type { PushEvent } from '../domain/push-event';
import type { OrganizationsReader } from '../fleet/walk';
import type { RepoReader } from '../planning/repo-reader';
import type { PlanOnlyRequest } from '../domain/plan-only';
import type { PullRequestEvent } from '../domain/pull-request-event';
import type { TeamCheck } from '../pull-requests/authors';
import type { PullRequestReporter } from '../pull-requests/reporter';
import type { RunStore } from '../store/run-store';
import type { LogFields, Logger } from '../log';

/** The pipeline steps log through tfstep's one structured logger. */
export type { LogFields };
export type PipelineLogger = Logger;

/** Reads the artifacts store (S3 bucket or local folder) with the layout of `artifactKeys`. */
export interface ArtifactGetter {
  /** The object's bytes, or undefined when nothing is stored under `key`. */
  get(key: string): Promise<Buffer | undefined>;
}

/** The artifacts store the pipeline also writes: the stages' item lists the Distributed Maps read. */
export interface ArtifactStore extends ArtifactGetter {
  /** The bucket name the state machine's ItemReader is given (a label in the local mode). */
  readonly bucket: string;
  /** Stores `body` under `key`, replacing what was there. */
  put(key: string, body: string): Promise<void>;
}

/** Tells whether an execution still runs (DescribeExecution in AWS). */
export interface ExecutionTracker {
  /** `executionId` is the execution ARN in AWS, whatever id the local mode gives. Unknown ids are not running. */
  isRunning(executionId: string): Promise<boolean>;
}

/**
 * Answers the task token a queued run waits on (SendTaskSuccess in AWS, the local engine's
 * tokens locally).
 */
export interface TaskTokenCallback {
  /** Sends `output` to the waiting state; false when no state waits on the token any more. */
  sendSuccess(token: string, output: unknown): Promise<boolean>;
}

/** Sends the run's end to people (SNS in AWS, the terminal locally). */
export interface Notifier {
  publish(subject: string, text: string, attributes?: Record<string, string>): Promise<void>;
}

/** Starts and stops plan-only executions (Step Functions in AWS, the local engine locally). */
export interface PlanOnlyExecutions {
  /** Starts an execution named `name`; answers its id (the ARN in AWS). */
  start(name: string, input: PlanOnlyRequest): Promise<string>;
  /** Stops an execution; one that has already ended is left as it is. */
  stop(executionId: string, cause: string): Promise<void>;
}

/** What the pull request steps need beyond {@link PipelineDeps}. */
export interface PullRequestDeps {
  readonly planOnlyExecutions: PlanOnlyExecutions;
  /** The reporter of the pull request's host (`pullRequestReporterFor`). */
  readonly reporter: (pr: Pick<PullRequestEvent, 'provider' | 'repository'>) => Promise<PullRequestReporter>;
  /** Where a run's page is, for the check run's details link. @default - no link */
  readonly runUrl?: (name: string) => string;
  /** Where a plan log is, by its key in the artifacts bucket (`artifactKeys.log`), for the summary's rows. @default - no links */
  readonly logUrl?: (key: string) => string;
  /** The command that prints a run's plan logs, for the summary's last line. @default - no line */
  readonly logsCommand?: (name: string) => string;
  /**
   * How `@org/team` entries of `pullRequests.authors` are checked for one event (`githubTeamCheck`);
   * called once per event, so membership answers are kept for that event only.
   * @default - they cannot be checked: team entries match nobody
   */
  readonly teams?: (pr: PullRequestEvent) => TeamCheck | Promise<TeamCheck>;
}

/** Everything {@link createPipelineHandler} needs. */
export interface PipelineDeps {
  readonly config: Config;
  readonly store: RunStore;
  readonly artifacts: ArtifactStore;
  /** A reader for the push's repository (GitHub API in AWS, the git CLI locally). */
  readonly repoReader: (push: PushEvent) => RepoReader;
  readonly executions: ExecutionTracker;
  /** Wakes queued runs: the run that releases a branch sends their task tokens. */
  readonly tasks: TaskTokenCallback;
  readonly notifier: Notifier;
  readonly clock: () => Date;
  readonly logger: PipelineLogger;
  /**
   * Where the fleet refresh reads the organization (AWS Organizations through
   * `fleet.organizations.roleArn`, or the local fleet file). @default - no fleet refresh
   */
  readonly organizations?: { readonly from: string; readonly reader: () => OrganizationsReader };
  /**
   * Where each account's apply is appended as an audit record (the audit bucket in AWS, the
   * state directory's audit.jsonl locally). @default - no audit record (tests of other steps)
   */
  readonly audit?: AuditWriter;
  /** The channel apply records name: `pipeline` in AWS, `local` in the local mode. @default 'pipeline' */
  readonly auditChannel?: AuditChannel;
  /** Pull request plans: starting and stopping plan-only runs, and the host's feedback (./pull-request.ts). @default - pull request events are refused */
  readonly pullRequests?: PullRequestDeps;
}

/** A logger that drops everything. */
export { silentLogger as silentPipelineLogger } from '../log';
