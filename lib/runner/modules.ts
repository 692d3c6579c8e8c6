/**
 * Module directories, proven to lie inside the checkout. The path syntax is checked by the
 * input schema; here the file system is checked, since a symlink committed to the repository
 * can point anywhere.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { RefusedError } from './errors';
import { quote } from './inputs';

function inside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (!rel.startsWith(`..${path.sep}`) && rel !== '..' && !path.isAbsolute(rel));
}

/**
 * Resolves every module to its real directory inside `checkout`, before any of them runs.
 * @returns module path -> real absolute directory, in input order
 * @throws RefusedError for an absolute path, a `..` or `.git` segment, a missing directory,
 *   or a path or top-level entry whose real location is outside the checkout
 */
export async function resolveModules(checkout: string, modules: readonly string[]): Promise<Map<string, string>> {
  const root = await realpath(checkout);
  const out = new Map<string, string>();
  for (const m of modules) {
    if (path.isAbsolute(m) || m.includes('\\')) throw new RefusedError(`refused module ${quote(m)}: an absolute path`);
    const segments = m.split('/');
    if (segments.some((s) => s === '..' || s === '.' || s === '')) throw new RefusedError(`refused module ${quote(m)}: "." or ".." segment`);
    if (segments.some((s) => s.toLowerCase() === '.git')) throw new RefusedError(`refused module ${quote(m)}: inside the .git directory`);
    let real: string;
    try {
      real = await realpath(path.join(root, m));
    } catch {
      throw new RefusedError(`refused module ${quote(m)}: no such directory at this commit`);
    }
    if (!inside(root, real)) throw new RefusedError(`refused module ${quote(m)}: resolves outside the checkout (symlink)`);
    if (real === root) throw new RefusedError(`refused module ${quote(m)}: resolves to the checkout root, not a module directory`);
    if (!(await stat(real)).isDirectory()) throw new RefusedError(`refused module ${quote(m)}: not a directory`);
    // A committed symlink such as main.tf -> /etc/... would make Terraform read outside the checkout.
    for (const entry of await readdir(real)) {
      const p = path.join(real, entry);
      if (!(await lstat(p)).isSymbolicLink()) continue;
      let target: string;
      try {
        target = await realpath(p);
      } catch {
        throw new RefusedError(`refused module ${quote(m)}: ${quote(entry)} is a dangling symlink`);
      }
      if (!inside(root, target)) throw new RefusedError(`refused module ${quote(m)}: ${quote(entry)} links outside the checkout`);
    }
    out.set(m, real);
  }
  return out;
}
