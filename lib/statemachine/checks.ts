/**
 * Structural checks of the pipeline definition that asl-validator cannot know: they encode the
 * design's facts (every runner task runs through the account's launcher role, a Terraform
 * failure is never retried, only the approval and a queued run wait for a token (the queued run
 * on a callback, never a poll), admit and finish never get the whole state, a failed account is caught
 * inside its Map, a stage's accounts and results never pass through the execution's state). `tfstep validate` runs them; so does the definition's test.
 */

import { allStates, type MachineLike, type State } from './definition';

export type { MachineLike } from './definition';

function asRecord(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}
function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function targetsOf(state: State): string[] {
  return [state.Next, state.Default, ...asArray(state.Choices).map((c) => asRecord(c).Next), ...asArray(state.Catch).map((c) => asRecord(c).Next)].filter(
    (t): t is string => typeof t === 'string',
  );
}

/**
 * The one ECS runner task of the pipeline: every phase (plan, apply, plan-and-apply) runs it,
 * so how an account's task runs, is retried, classified and recorded is written once.
 */
export const RUNNER_TASK_STATES = ['RunTerraform'] as const;
/** The one Map state that fans out over a stage's accounts, in every phase. */
export const ACCOUNT_MAP_STATES = ['Accounts'] as const;
/** The states that wait for a task token: the approval, and a queued run waiting for its branch. */
export const TOKEN_WAIT_STATES = ['RequestApproval', 'WaitForTurn'] as const;
const QUEUE_WAIT_STATE = 'WaitForTurn';
/** Pipeline function steps that must not be given the whole state. */
const WHOLE_STATE_REFUSED = ['Admit', 'Finish'] as const;
const REQUIRED_ENV = ['TFSTEP_REPOSITORY', 'TFSTEP_COMMIT', 'TFSTEP_PHASE', 'TFSTEP_EXECUTION', 'TFSTEP_MANIFEST', 'TFSTEP_MANIFEST_SHA256'];
/**
 * Lists that grow with the number of modules never go into RunTask's overrides (8,192
 * characters in all): they travel in the manifest.
 */
const FORBIDDEN_ENV = ['TFSTEP_MODULES', 'TFSTEP_APPROVED_PLANS'];

/**
 * Problems of a parsed (rendered) pipeline definition, one readable sentence each; empty when
 * the definition keeps every rule.
 */
export function checkPipelineDefinition(machine: MachineLike): string[] {
  const problems: string[] = [];
  const states = allStates(machine);
  const machines = new Set<MachineLike>([machine, ...states.map(([, , m]) => m)]);

  for (const m of machines) {
    const own = asRecord(m.States);
    if (typeof m.StartAt !== 'string' || !(m.StartAt in own)) problems.push(`StartAt ${JSON.stringify(m.StartAt)} names no state`);
  }
  for (const [name, state, m] of states) {
    for (const target of targetsOf(state)) {
      if (!(target in asRecord(m.States))) problems.push(`state ${name} points at ${target}, which does not exist`);
    }
  }
  for (const m of machines) {
    const own = asRecord(m.States);
    const seen = new Set<string>();
    const queue = typeof m.StartAt === 'string' ? [m.StartAt] : [];
    while (queue.length > 0) {
      const name = queue.pop()!;
      if (seen.has(name) || !(name in own)) continue;
      seen.add(name);
      queue.push(...targetsOf(asRecord(own[name])));
    }
    for (const name of Object.keys(own)) if (!seen.has(name)) problems.push(`state ${name} is never reached`);
  }

  const tasks = states.filter(([, s]) => s.Type === 'Task');
  for (const [name, task] of tasks) {
    if (typeof task.TimeoutSeconds !== 'number' && typeof task.TimeoutSecondsPath !== 'string') problems.push(`task ${name} has no TimeoutSeconds or TimeoutSecondsPath`);
    if (asArray(task.Retry).length === 0) problems.push(`task ${name} has no Retry`);
    if (asArray(task.Catch).length === 0) problems.push(`task ${name} has no Catch`);
  }

  const ecs = tasks.filter(([, t]) => String(t.Resource).includes(':ecs:runTask.sync'));
  const ecsNames = ecs.map(([n]) => n).sort();
  if (JSON.stringify(ecsNames) !== JSON.stringify([...RUNNER_TASK_STATES])) {
    problems.push(`the ECS runner tasks are ${ecsNames.join(', ') || 'none'}; expected ${RUNNER_TASK_STATES.join(', ')}`);
  }
  for (const [name, task] of ecs) {
    if (asRecord(task.Credentials)['RoleArn.$'] !== '$.account.launcherRoleArn') problems.push(`task ${name} does not run through Credentials.RoleArn.$ = $.account.launcherRoleArn`);
    for (const r of asArray(task.Retry).map(asRecord)) {
      const errors = asArray(r.ErrorEquals);
      // A non-zero container exit is States.TaskFailed: retrying it would run a failed apply again.
      if (errors.includes('States.TaskFailed') || errors.includes('States.ALL')) problems.push(`task ${name} retries ${errors.join(', ')}: a Terraform failure must never be retried`);
      if (!(typeof r.BackoffRate === 'number' && r.BackoffRate > 1)) problems.push(`task ${name} retries without a BackoffRate above 1`);
    }
    const overrides = asArray(asRecord(asRecord(task.Parameters).Overrides).ContainerOverrides).map(asRecord);
    const env = asArray(overrides[0]?.Environment).map((e) => asRecord(e).Name);
    const missing = REQUIRED_ENV.filter((n) => !env.includes(n));
    if (missing.length > 0) problems.push(`task ${name} does not pass ${missing.join(', ')} to the runner`);
    const growing = env.filter((n) => FORBIDDEN_ENV.includes(String(n)));
    if (growing.length > 0) problems.push(`task ${name} passes ${growing.join(', ')} in its overrides: lists that grow with the modules go in the manifest (RunTask allows 8,192 characters of overrides)`);
    const values = asArray(overrides[0]?.Environment).map(asRecord);
    for (const v of values) {
      if (typeof v['Value.$'] === 'string' && v['Value.$'].includes('JsonToString')) problems.push(`task ${name} serialises ${String(v.Name)} into its overrides with States.JsonToString: its size would grow with its data`);
    }
  }
  for (const [name, task] of ecs) {
    const params = asRecord(task.Parameters);
    // The item names the phase's task definition; its schema ties a plan item to the read-only one.
    if (params['TaskDefinition.$'] !== '$.account.taskDefinition') problems.push(`task ${name} does not run the item's $.account.taskDefinition`);
    const env = asArray(asRecord(asArray(asRecord(params.Overrides).ContainerOverrides)[0]).Environment).map(asRecord);
    const phase = env.find((e) => e.Name === 'TFSTEP_PHASE');
    if (phase && phase['Value.$'] !== '$.account.phase') problems.push(`task ${name} does not pass the item's $.account.phase as TFSTEP_PHASE`);
    for (const [envName, path] of [['TFSTEP_MANIFEST', '$.account.manifest.key'], ['TFSTEP_MANIFEST_SHA256', '$.account.manifest.sha256']]) {
      const e = env.find((x) => x.Name === envName);
      if (e && e['Value.$'] !== path) problems.push(`task ${name} does not pass the item's ${path} as ${envName}`);
    }
  }

  const waiting = tasks.filter(([, t]) => String(t.Resource).endsWith('.waitForTaskToken'));
  const waitingNames = waiting.map(([n]) => n).sort();
  if (JSON.stringify(waitingNames) !== JSON.stringify([...TOKEN_WAIT_STATES].sort())) {
    problems.push(`the states waiting for a task token are ${waitingNames.join(', ') || 'none'}; expected ${TOKEN_WAIT_STATES.join(' and ')}`);
  }
  for (const [name, task] of waiting) {
    if (asRecord(asRecord(task.Parameters).Payload)['taskToken.$'] !== '$$.Task.Token') problems.push(`task ${name} does not pass $$.Task.Token to the function it calls`);
  }
  // A queued run waits on a callback: a poll loop would write history events for every poll.
  const queueWait = asRecord(asRecord(machine.States)[QUEUE_WAIT_STATE]);
  if (queueWait.Type === 'Task') {
    if (typeof queueWait.HeartbeatSeconds !== 'number' || typeof queueWait.TimeoutSeconds !== 'number' || queueWait.HeartbeatSeconds >= queueWait.TimeoutSeconds) {
      problems.push(`task ${QUEUE_WAIT_STATE} needs a HeartbeatSeconds below its TimeoutSeconds: it bounds how long a lost wake-up keeps a run waiting`);
    }
    const back = asArray(queueWait.Catch).map(asRecord).find((c) => asArray(c.ErrorEquals).includes('States.HeartbeatTimeout'));
    if (back?.Next !== 'Admit') problems.push(`task ${QUEUE_WAIT_STATE} does not go back to Admit when its heartbeat times out`);
  } else problems.push(`state ${QUEUE_WAIT_STATE} is missing or not a Task: a queued run must wait on a callback`);
  for (const [name, state] of states) {
    if (state.Type === 'Wait' && targetsOf(state).includes('Admit')) problems.push(`Wait state ${name} loops back to Admit: a queued run must wait on a callback, not poll`);
  }
  // Admit and finish are given only what they need: a state grown by a large push could
  // otherwise push their payload over 256 KiB and end the run without finish.
  for (const name of WHOLE_STATE_REFUSED) {
    const payload = asRecord(asRecord(asRecord(asRecord(machine.States)[name]).Parameters).Payload);
    for (const [key, value] of Object.entries(payload)) if (key.endsWith('.$') && value === '$') problems.push(`task ${name} passes the whole state as ${key.slice(0, -2)}; pass only the fields it needs`);
  }

  const top = asRecord(machine.States);
  for (const mapName of ACCOUNT_MAP_STATES) {
    const map = asRecord(top[mapName]);
    if (map.Type !== 'Map') {
      problems.push(`state ${mapName} is missing or not a Map`);
      continue;
    }
    if (map.MaxConcurrencyPath !== '$.current.stage.concurrency') problems.push(`Map ${mapName} does not bound its concurrency with $.current.stage.concurrency`);
    const inner = asRecord(map.ItemProcessor);
    // Each account runs in a child execution of its own: the parent's history and state stay small.
    const processor = asRecord(inner.ProcessorConfig);
    if (processor.Mode !== 'DISTRIBUTED') problems.push(`Map ${mapName} is not a Distributed Map: a large stage would put every account in the execution's history and state`);
    // An Express child stops after five minutes: a runner task takes longer.
    if (processor.ExecutionType !== 'STANDARD') problems.push(`Map ${mapName} does not run its children as STANDARD executions: an EXPRESS child ends after five minutes`);
    if (!String(asRecord(map.ItemReader).Resource).endsWith(':s3:getObject') || 'ItemsPath' in map) {
      problems.push(`Map ${mapName} does not read its items from S3 with an ItemReader: the accounts would pass through the 256 KiB state`);
    }
    if (!String(asRecord(map.ResultWriter).Resource).endsWith(':s3:putObject') || map.ResultPath !== null) {
      problems.push(`Map ${mapName} does not write its results to S3 and discard them (ResultWriter, ResultPath null): they would pass through the 256 KiB state`);
    }
    const innerStates = asRecord(inner.States);
    const first = asRecord(innerStates[String(inner.StartAt)]);
    const catchAll = asRecord(asArray(first.Catch)[0]);
    if (JSON.stringify(catchAll.ErrorEquals) !== '["States.ALL"]') problems.push(`Map ${mapName} does not catch a failed account (States.ALL) inside the iteration`);
    // Fencing: a run that lost its branch must not start a task, so every way into the runner task
    // passes the lease check first, the retry loop included.
    if (asRecord(asRecord(first.Parameters).Payload).action !== 'check-lease') problems.push(`Map ${mapName} does not start each iteration with the check-lease step`);
    for (const [name, state] of Object.entries(innerStates)) {
      const into = targetsOf(asRecord(state)).filter((t) => RUNNER_TASK_STATES.includes(t as (typeof RUNNER_TASK_STATES)[number]));
      const action = asRecord(asRecord(asRecord(state).Parameters).Payload).action;
      if (into.length > 0 && action !== 'check-lease') problems.push(`state ${name} starts the runner task without the check-lease step`);
    }
  }
  return problems;
}

/** Problems of the raw definition text: literal ARNs or account ids instead of placeholders. */
export function checkPipelineText(raw: string): string[] {
  const problems: string[] = [];
  if (/arn:aws[a-z-]*:/.test(raw)) problems.push('the definition names a literal ARN; use ${Partition} and the ARN placeholders');
  if (/\b\d{12}\b/.test(raw)) problems.push('the definition names a literal 12-digit account id; use placeholders');
  return problems;
}
