/**
 * The task's manifest: the module list and approved plan hashes, which grow with the number of
 * modules and so cannot travel in RunTask's overrides (8,192 characters in all, JSON included:
 * RunTask, Amazon ECS API Reference, `overrides`,
 * https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RunTask.html). The pipeline
 * writes it to the artifacts store under the account's own prefix; the overrides carry only its
 * key and SHA-256. The runner reads it with its own role and refuses it unless it is the task's
 * own manifest, byte for byte.
 */
import { createHash } from 'node:crypto';
import {
  artifactKeys,
  encodeManifest,
  RunnerInputSchema,
  RunnerManifestSchema,
  type RunnerEnvInput,
  type RunnerInput,
  type RunnerManifest,
} from '../domain/runner-contract';
import { ArtifactNotFoundError, type ArtifactStore } from './artifacts';
import { InfraError, RefusedError } from './errors';
import { describeIssue, quote } from './inputs';

/** A manifest as written: where, its bytes, and their SHA-256 (what the overrides carry). */
export interface WrittenManifest {
  key: string;
  body: string;
  sha256: string;
}

/**
 * The manifest of `manifest`'s task: its key and exact bytes. Pure; the caller stores it. Not
 * validated here: the runner validates what it reads, whoever wrote it.
 */
export function manifestFor(manifest: RunnerManifest): WrittenManifest {
  const body = encodeManifest(manifest);
  return {
    key: artifactKeys.manifest(manifest.execution, manifest.account, manifest.phase),
    body,
    sha256: createHash('sha256').update(body).digest('hex'),
  };
}

/**
 * Reads and checks the task's manifest, and answers the full runner input.
 * @param account the account this runner serves (the policy's), whose prefix the manifest must be under
 * @throws RefusedError when the manifest is missing, at another key, altered, malformed, or of another task
 * @throws InfraError when the store cannot be read
 */
export async function readManifest(store: ArtifactStore, env: RunnerEnvInput, account: string): Promise<RunnerInput> {
  if (env.account !== account) {
    throw new RefusedError(`refused account ${quote(env.account)}: this runner serves account ${quote(account)}`);
  }
  const expectedKey = artifactKeys.manifest(env.execution, account, env.phase);
  if (env.manifest !== expectedKey) {
    throw new RefusedError(`refused manifest ${quote(env.manifest)}: this task's manifest is ${expectedKey} (its account, execution and phase)`);
  }
  let bytes: Uint8Array;
  try {
    bytes = await store.get(expectedKey);
  } catch (e) {
    if (e instanceof ArtifactNotFoundError) throw new RefusedError(`refused manifest ${expectedKey}: it is not in the artifacts store`);
    throw new InfraError(`cannot read the manifest ${expectedKey}: ${(e as Error).message}`);
  }
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== env.manifestSha256) {
    throw new RefusedError(`refused manifest ${expectedKey}: its SHA-256 is ${actual}, the task names ${env.manifestSha256}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw new RefusedError(`refused manifest ${expectedKey}: not valid JSON`);
  }
  const parsed = RunnerManifestSchema.safeParse(json);
  if (!parsed.success) throw new RefusedError(`refused manifest ${expectedKey}: ${describeIssue(parsed.error, json, (f) => f)}`);
  const manifest = parsed.data;
  for (const field of ['account', 'execution', 'phase'] as const) {
    if (manifest[field] !== env[field]) {
      throw new RefusedError(`refused manifest ${expectedKey}: it is for ${field} ${quote(manifest[field])}, the task runs ${quote(env[field])}`);
    }
  }
  const raw = {
    repository: env.repository,
    commit: env.commit,
    ref: env.ref,
    account: env.account,
    stage: env.stage,
    phase: env.phase,
    modules: manifest.modules,
    execution: env.execution,
    ...(manifest.approvedPlans === undefined ? {} : { approvedPlans: manifest.approvedPlans }),
    ...(manifest.dependencies === undefined ? {} : { dependencies: manifest.dependencies }),
    ...(manifest.moduleConcurrency === undefined ? {} : { moduleConcurrency: manifest.moduleConcurrency }),
    ...(manifest.planOnly === undefined ? {} : { planOnly: manifest.planOnly }),
  };
  const input = RunnerInputSchema.safeParse(raw);
  if (!input.success) throw new RefusedError(`refused manifest ${expectedKey}: ${describeIssue(input.error, raw, (f) => f)}`);
  return input.data;
}
