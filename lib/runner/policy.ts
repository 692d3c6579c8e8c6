/**
 * The account's own rules. They come from a source fixed by the image's ENTRYPOINT (an SSM
 * parameter written by the account stack) and never from the task's input, so whoever launches
 * the task cannot loosen them.
 */
import { readFile } from 'node:fs/promises';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { findAllowedRepository } from '../config/repo-url';
import { RunnerPolicySchema, type Phase, type RunnerInput, type RunnerPolicy } from '../domain/runner-contract';
import { InfraError, RefusedError } from './errors';
import { quote, type PolicySource } from './inputs';

/**
 * Loads and validates the policy.
 * @throws InfraError when the source cannot be read (retryable)
 * @throws RefusedError when it is not a valid policy (a misconfigured account: retrying won't help)
 */
export async function loadPolicy(source: PolicySource, ssm?: SSMClient): Promise<RunnerPolicy> {
  let text: string;
  try {
    if (source.kind === 'ssm') {
      const res = await (ssm ?? new SSMClient({})).send(new GetParameterCommand({ Name: source.name, WithDecryption: true }));
      text = res.Parameter?.Value ?? '';
    } else {
      text = await readFile(source.path, 'utf8');
    }
  } catch (e) {
    throw new InfraError(`cannot read the runner policy from ${source.kind}:${source.kind === 'ssm' ? source.name : source.path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RefusedError('refused: the runner policy is not valid JSON');
  }
  const parsed = RunnerPolicySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RefusedError(`refused: invalid runner policy at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  if (source.kind === 'ssm' && parsed.data.localStateDir !== undefined) {
    // A container's disk goes with the task: state kept there would be lost, so only the local mode may ask for it.
    throw new RefusedError('refused: invalid runner policy at localStateDir: only a local-mode policy file may keep Terraform state on disk');
  }
  if (source.kind === 'ssm' && !parsed.data.planRecords.startsWith('dynamodb://')) {
    // Records on the container's disk would die with the plan task: no apply could ever find them.
    throw new RefusedError('refused: invalid runner policy at planRecords: a policy from SSM must name the account\'s plan records table (dynamodb://<table>)');
  }
  return parsed.data;
}

/** The subcommands a phase runs, in order of first use. */
export function subcommandsFor(phase: Phase): string[] {
  switch (phase) {
    case 'plan':
      return ['init', 'plan', 'show'];
    case 'apply':
      return ['init', 'apply'];
    case 'plan-and-apply':
      return ['init', 'plan', 'show', 'apply'];
  }
}

/** Refuses `subcommand` unless the policy allows it; called before every tool invocation. */
export function assertSubcommandAllowed(policy: RunnerPolicy, subcommand: string): void {
  if (!policy.allowedSubcommands.includes(subcommand)) {
    throw new RefusedError(`refused subcommand ${quote(subcommand)}: not in the policy's allowedSubcommands (${policy.allowedSubcommands.join(', ')})`);
  }
}

/**
 * Whether the input's ref may run: one of the policy's refs, or, for a plan-only pull-request
 * task in an account that opted in, any branch of the allowed repositories (plan phase only).
 */
export function refAllowed(input: Pick<RunnerInput, 'ref' | 'phase' | 'planOnly'>, policy: Pick<RunnerPolicy, 'refs' | 'pullRequestBranches'>): boolean {
  if (policy.refs.includes(input.ref)) return true;
  return input.planOnly?.kind === 'pull-request' && input.phase === 'plan' && policy.pullRequestBranches === true && /^refs\/heads\/[A-Za-z0-9._/-]+$/.test(input.ref);
}

/**
 * Every check that needs neither git nor the artifacts: account, repository, ref, phase,
 * subcommands, approved plans. Returns the clone URL to use, as the policy spells it, so the
 * string git receives is never the task's own.
 * @throws RefusedError on the first failed check
 */
export function checkInputAgainstPolicy(input: RunnerInput, policy: RunnerPolicy): { cloneUrl: string } {
  if (input.account !== policy.account) {
    throw new RefusedError(`refused account ${quote(input.account)}: this runner serves account ${quote(policy.account)}`);
  }
  const cloneUrl = findAllowedRepository(input.repository, policy.repositories);
  if (cloneUrl === undefined) {
    throw new RefusedError(`refused repository ${quote(input.repository)}: not one of the policy's repositories`);
  }
  if (!refAllowed(input, policy)) {
    const pr = input.planOnly?.kind === 'pull-request';
    throw new RefusedError(
      pr && policy.pullRequestBranches !== true
        ? `refused ref ${quote(input.ref)}: this account does not plan pull requests (pullRequestPlans is off in its policy)`
        : `refused ref ${quote(input.ref)}: not one of the policy's refs (${policy.refs.join(', ')})`,
    );
  }
  if (!policy.phases.includes(input.phase)) {
    throw new RefusedError(`refused phase ${quote(input.phase)}: this runner may only run ${policy.phases.join(', ')}`);
  }
  for (const sub of subcommandsFor(input.phase)) assertSubcommandAllowed(policy, sub);
  const modules = new Set(input.modules);
  if (modules.size !== input.modules.length) {
    throw new RefusedError('refused modules: a module is listed twice');
  }
  for (const m of Object.keys(input.approvedPlans ?? {})) {
    if (!modules.has(m)) throw new RefusedError(`refused approved plans: ${quote(m)} is not one of the task's modules`);
  }
  return { cloneUrl };
}
