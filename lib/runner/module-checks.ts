/**
 * What a module must have before the tool runs in an account (the policy's `requireRemoteBackend`
 * and `requireLockFile`, set by the account stack and absent in the local mode):
 *
 * - a remote backend: without one, Terraform keeps its state in the task's scratch volume, which
 *   dies with the task, and every apply creates the module's resources again;
 * - a committed dependency lock file (`.terraform.lock.hcl`): without one, `init` picks the newest
 *   provider versions the constraints allow, so the providers of an apply days after its plan can
 *   differ from the plan's. With one, `init -lockfile=readonly` refuses to change it.
 *
 * terragrunt is exempt: it generates the backend (`remote_state`) and keeps the lock file in its
 * cache, so neither is visible in the module folder.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { RunnerPolicy } from '../domain/runner-contract';
import { RefusedError } from './errors';
import { quote } from './inputs';

/** The dependency lock file's name in a module folder. */
export const LOCK_FILE = '.terraform.lock.hcl';

/** HCL without its comments, so a commented-out backend does not count. */
function stripComments(hcl: string): string {
  return hcl.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:"])(#|\/\/).*$/gm, '$1');
}

/** The backend types a module's configuration declares (`cloud` for a `cloud {}` block). */
export async function declaredBackends(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const file of (await readdir(dir)).sort()) {
    if (file.endsWith('.tf')) {
      const text = stripComments(await readFile(path.join(dir, file), 'utf8'));
      for (const m of text.matchAll(/\bbackend\s+"([A-Za-z0-9_-]+)"\s*\{/g)) found.push(m[1]!);
      if (/\bterraform\s*\{[\s\S]*?\bcloud\s*\{/.test(text)) found.push('cloud');
    } else if (file.endsWith('.tf.json')) {
      let json: unknown;
      try {
        json = JSON.parse(await readFile(path.join(dir, file), 'utf8'));
      } catch {
        continue;
      }
      const blocks = (json as { terraform?: unknown }).terraform;
      for (const block of Array.isArray(blocks) ? blocks : [blocks]) {
        const b = block as { backend?: Record<string, unknown>; cloud?: unknown } | undefined;
        if (b?.backend && typeof b.backend === 'object') found.push(...Object.keys(b.backend));
        if (b?.cloud) found.push('cloud');
      }
    }
  }
  return found;
}

/** What the checks learned about one module, for its result. */
export interface ModuleFacts {
  /** SHA-256 of the committed `.terraform.lock.hcl`, when there is one. */
  lockFileSha256?: string;
}

/**
 * Checks every module before any runs.
 * @throws RefusedError naming the module and what it lacks
 */
export async function checkModules(dirs: ReadonlyMap<string, string>, policy: RunnerPolicy): Promise<Map<string, ModuleFacts>> {
  const facts = new Map<string, ModuleFacts>();
  for (const [module, dir] of dirs) {
    const f: ModuleFacts = {};
    try {
      f.lockFileSha256 = createHash('sha256')
        .update(await readFile(path.join(dir, LOCK_FILE)))
        .digest('hex');
    } catch {
      // no lock file: refused below if the policy requires one
    }
    facts.set(module, f);
    if (policy.tool === 'terragrunt') continue;
    if (policy.requireRemoteBackend) {
      const backends = await declaredBackends(dir);
      if (!backends.some((b) => b !== 'local')) {
        throw new RefusedError(
          `refused module ${quote(module)}: it declares no remote backend${backends.length > 0 ? ' (only "local")' : ''}; its state would live on the task's disk and be lost with the task. Add a backend "s3" block (see the account's state settings)`,
        );
      }
    }
    if (policy.requireLockFile && f.lockFileSha256 === undefined) {
      throw new RefusedError(
        `refused module ${quote(module)}: no ${LOCK_FILE} is committed; run "terraform init" (or "terraform providers lock") and commit the file, so plan and apply use the same providers`,
      );
    }
  }
  return facts;
}
