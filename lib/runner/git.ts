/**
 * Checkout of exactly the allowed commit, with credentials that never reach argv, the logs or
 * the environment of Terraform.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { httpCredentialFor, parseGitCredential, secretValues, type GitCredential } from '../git-auth';
import { InfraError, RefusedError } from './errors';
import { exec } from './exec';
import type { Logger } from './logger';

/** How git authenticates: extra `-c` options and environment for git only. */
export interface GitAccess {
  configArgs: string[];
  env: Record<string, string>;
}

/** GitHub's published SSH host key, so a deploy key works for github.com without trust on first use. */
export const GITHUB_KNOWN_HOSTS = 'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';

/**
 * Reads the account's git credentials and prepares git to use them. The key or token is written
 * to files (mode 0600) in `secretDir`; only their paths appear in git's options. Every secret
 * value is registered with the logger before anything can print it.
 *
 * The credentials are a Secrets Manager secret of the account (read with the runner's own task
 * role), or, in the local mode only (a policy read from a file), `file:<absolute path>`. A GitHub
 * App is turned into an installation token for the cloned repository alone, with
 * `contents: read`, minted now and gone with the task.
 */
export async function prepareGitAccess(opts: {
  secretId: string | undefined;
  cloneUrl: string;
  secretDir: string;
  logger: Logger;
  secrets?: SecretsManagerClient;
  /** Whether `file:` credentials are allowed (a policy from a file: the local mode). @default false */
  allowFileCredentials?: boolean;
  /** For GitHub App tokens. @default globalThis.fetch */
  fetch?: typeof fetch;
}): Promise<GitAccess> {
  // A local repository (the local mode) needs no credentials, whatever the policy says.
  if (opts.secretId === undefined || opts.cloneUrl.startsWith('/') || /^file:/i.test(opts.cloneUrl)) return { configArgs: [], env: {} };
  const text = await readCredentialText(opts.secretId, opts.allowFileCredentials === true, opts.secrets);
  opts.logger.addSecret(text);
  let secret: GitCredential;
  try {
    secret = parseGitCredential(text, `the git credentials secret ${opts.secretId}`);
  } catch (e) {
    throw new InfraError((e as Error).message);
  }
  for (const v of secretValues(secret)) opts.logger.addSecret(v);
  await mkdir(opts.secretDir, { recursive: true, mode: 0o700 });
  const isHttp = /^https?:\/\//i.test(opts.cloneUrl);
  if ('sshPrivateKey' in secret && !isHttp) {
    const keyFile = path.join(opts.secretDir, 'deploy_key');
    const knownHosts = path.join(opts.secretDir, 'known_hosts');
    await writeFile(keyFile, `${secret.sshPrivateKey.trim()}\n`, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    await writeFile(knownHosts, `${(secret.knownHosts ?? GITHUB_KNOWN_HOSTS).trim()}\n`, { mode: 0o600 });
    const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;
    return {
      configArgs: [],
      env: {
        // A host key not in known_hosts is refused: no trust on first use inside the boundary.
        GIT_SSH_COMMAND: `ssh -i ${q(keyFile)} -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${q(knownHosts)}`,
      },
    };
  }
  if (!('sshPrivateKey' in secret) && isHttp) {
    let cred: { username: string; token: string };
    try {
      cred = await httpCredentialFor(secret, opts.cloneUrl, { fetch: opts.fetch })();
    } catch (e) {
      // GitHub down or refusing the App: the run may be retried.
      throw new InfraError(`cannot get a token for ${opts.cloneUrl}: ${(e as Error).message}`);
    }
    opts.logger.addSecret(cred.token);
    const url = new URL(opts.cloneUrl);
    const store = path.join(opts.secretDir, 'git-credentials');
    await writeFile(store, `${url.protocol}//${encodeURIComponent(cred.username)}:${encodeURIComponent(cred.token)}@${url.host}\n`, { mode: 0o600 });
    await chmod(store, 0o600);
    // The empty helper first drops any helper configured elsewhere; only the file's path is in argv.
    return { configArgs: ['-c', 'credential.helper=', '-c', `credential.helper=store --file=${store}`], env: {} };
  }
  throw new InfraError(`the git credentials secret ${opts.secretId} holds no ${isHttp ? 'GitHub App or token for an HTTPS' : 'SSH key for an SSH'} clone URL`);
}

async function readCredentialText(secretId: string, allowFile: boolean, secrets: SecretsManagerClient | undefined): Promise<string> {
  let text: string;
  if (secretId.startsWith('file:')) {
    if (!allowFile) throw new RefusedError(`refused git credentials ${secretId}: file credentials are for a policy read from a file (the local mode) only`);
    const file = secretId.slice('file:'.length);
    if (!path.isAbsolute(file)) throw new RefusedError(`refused git credentials ${secretId}: expected file:<absolute path>`);
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new InfraError(`cannot read the git credentials file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else {
    try {
      const res = await (secrets ?? new SecretsManagerClient({})).send(new GetSecretValueCommand({ SecretId: secretId }));
      text = res.SecretString ?? (res.SecretBinary ? Buffer.from(res.SecretBinary).toString('utf8') : '');
    } catch (e) {
      throw new InfraError(`cannot read the git credentials secret ${secretId}: ${(e as Error).name}`);
    }
  }
  if (text.trim() === '') throw new InfraError(`the git credentials secret ${secretId} is empty`);
  return text;
}

/** Options of {@link checkoutCommit}. */
export interface CheckoutOptions {
  git: string;
  cloneUrl: string;
  ref: string;
  commit: string;
  dir: string;
  access: GitAccess;
  /** The environment git runs with (built from an allowlist by the caller). */
  env: Record<string, string>;
  logger: Logger;
}

/**
 * Fetches the allowed ref into a fresh repository at `dir`, proves `commit` is reachable from
 * it, checks it out detached and proves HEAD is exactly `commit`.
 * @throws RefusedError when the commit is not in the repository, not on the ref, or not HEAD
 * @throws InfraError when git itself fails (network, credentials)
 */
export async function checkoutCommit(o: CheckoutOptions): Promise<void> {
  const env = { ...o.env, ...o.access.env };
  const run = async (args: string[], allowFail = false) => {
    const res = await exec(o.git, [...o.access.configArgs, ...args], { cwd: o.dir, env, logger: o.logger, logStderr: !allowFail });
    if (res.code !== 0 && !allowFail) throw new InfraError(`git ${args[0] ?? ''} failed with exit code ${res.code}`);
    return res;
  };
  // Data never becomes an option: a URL or ref starting with "-" is refused before git sees it.
  for (const [what, value] of [['clone URL', o.cloneUrl], ['ref', o.ref], ['commit', o.commit]] as const) {
    if (value.startsWith('-')) throw new RefusedError(`refused ${what} ${JSON.stringify(value)}: it starts with "-", so git would read it as an option`);
  }
  await mkdir(o.dir, { recursive: true });
  await run(['init', '--quiet', '.']);
  const allowed = 'refs/tfstep/allowed';
  o.logger.info(`fetching ${o.ref}`);
  // `--` ends the options: the URL and the refspec can never be read as options.
  await run(['fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--', o.cloneUrl, `+${o.ref}:${allowed}`]);
  const present = await run(['cat-file', '-e', `${o.commit}^{commit}`], true);
  if (present.code !== 0) {
    // Not in the ref's history; fetch it by id only to say precisely why it is refused.
    const direct = await run(['fetch', '--quiet', '--no-tags', '--no-recurse-submodules', '--', o.cloneUrl, o.commit], true);
    if (direct.code !== 0) throw new RefusedError(`refused commit ${o.commit}: not found in the repository`);
    // A tree or blob id is in the repository too, but it is no commit: refused like any bad input.
    const type = await exec(o.git, ['cat-file', '-t', o.commit], { cwd: o.dir, env, logger: o.logger, captureStdout: true });
    const kind = type.stdout.trim();
    if (type.code !== 0 || kind !== 'commit') throw new RefusedError(`refused commit ${o.commit}: names a ${kind || 'missing object'}, not a commit`);
  }
  const ancestor = await run(['merge-base', '--is-ancestor', o.commit, allowed], true);
  if (ancestor.code === 1) throw new RefusedError(`refused commit ${o.commit}: not reachable from the allowed ref ${o.ref}`);
  if (ancestor.code !== 0) throw new InfraError(`git merge-base failed with exit code ${ancestor.code}`);
  await run(['-c', 'advice.detachedHead=false', 'checkout', '--quiet', '--detach', o.commit]);
  const head = await exec(o.git, ['rev-parse', 'HEAD'], { cwd: o.dir, env, logger: o.logger, captureStdout: true });
  if (head.code !== 0) throw new InfraError('git rev-parse HEAD failed');
  if (head.stdout.trim() !== o.commit) throw new RefusedError(`refused checkout: HEAD is ${head.stdout.trim()}, not the requested commit ${o.commit}`);
  o.logger.info(`checked out ${o.commit} (reachable from ${o.ref})`);
}
