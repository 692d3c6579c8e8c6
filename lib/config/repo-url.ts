/**
 * Git clone URL normalisation, pure and shared: the runner compares the task's repository
 * against its policy with it, and the webhook and the local mode can match pushes the same way.
 *
 * `git@github.com:acme/live.git`, `ssh://git@github.com/acme/live.git`,
 * `https://github.com/acme/live` and `https://GitHub.com/acme/live/` all name one repository,
 * so all normalise to `github.com/acme/live`. Local repositories (an absolute path or a
 * `file://` URL, used by the local mode) normalise to `file://<absolute path>`.
 */
import * as path from 'node:path';

/** Default ports dropped from the host, so `ssh://git@host:22/x` equals `git@host:x`. */
const DEFAULT_PORTS: Record<string, string> = { ssh: '22', 'git+ssh': '22', https: '443', http: '80', git: '9418' };

/** Transports accepted in URL form. `ext::`, `fd::` and other remote helpers are never accepted. */
const URL_SCHEMES = new Set(['ssh', 'git+ssh', 'https', 'http', 'git']);

const HOST = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;
const SEGMENT = /^[A-Za-z0-9._~-]+$/;

function normalisePathSegments(raw: string): string | undefined {
  let p = raw.replace(/^\/+/, '').replace(/\/+$/, '');
  if (p.endsWith('.git')) p = p.slice(0, -'.git'.length);
  p = p.replace(/\/+$/, '');
  const segments = p.split('/');
  if (segments.length === 0 || segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) return undefined;
  return segments.join('/');
}

function remoteKey(host: string, port: string, scheme: string, rawPath: string): string | undefined {
  const h = host.toLowerCase();
  if (!HOST.test(h)) return undefined;
  const p = normalisePathSegments(rawPath);
  if (p === undefined) return undefined;
  const keptPort = port && port !== DEFAULT_PORTS[scheme] ? `:${port}` : '';
  return `${h}${keptPort}/${p}`;
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

function localKey(absolute: string): string | undefined {
  if (!path.posix.isAbsolute(absolute) || absolute.includes('\0')) return undefined;
  // A local directory named `x.git` is not the directory `x`, so `.git` stays.
  const normal = path.posix.normalize(absolute).replace(/\/+$/, '');
  return `file://${normal === '' ? '/' : normal}`;
}

/**
 * The comparable form of a clone URL, or `undefined` when the string is not a clone URL this
 * system accepts (relative paths, `ext::` helpers, query strings, `..` segments, options that
 * start with `-`).
 */
export function normalizeRepoUrl(url: string): string | undefined {
  const u = url.trim();
  if (u === '' || u.startsWith('-') || /[\s\0]/.test(u) || u.includes('::')) return undefined;
  // The URL parser would resolve dot segments silently; a URL spelled with them is refused instead.
  if (/(^|[/:])(\.|%2e){1,2}(\/|$)/i.test(u.replace(/^[a-z][a-z0-9+.-]*:\/\//i, ''))) return undefined;
  if (u.startsWith('/')) return localKey(u);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(u)?.[1]?.toLowerCase();
  if (scheme === 'file') {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      return undefined;
    }
    if (parsed.host !== '' && parsed.host !== 'localhost') return undefined;
    if (parsed.search || parsed.hash) return undefined;
    const local = decode(parsed.pathname);
    return local === undefined ? undefined : localKey(local);
  }
  if (scheme !== undefined) {
    if (!URL_SCHEMES.has(scheme)) return undefined;
    let parsed: URL;
    try {
      // WHATWG URL only understands "special" schemes well; parse every one as https.
      parsed = new URL(`https://${u.slice(scheme.length + 3)}`);
    } catch {
      return undefined;
    }
    if (parsed.search || parsed.hash || u.includes('?') || u.includes('#')) return undefined;
    // Parsed as https, so an explicit :443 is already dropped; other defaults are dropped below.
    const remotePath = decode(parsed.pathname);
    return remotePath === undefined ? undefined : remoteKey(parsed.hostname, parsed.port, scheme, remotePath);
  }
  // scp-like syntax: [user@]host:path. Git treats it so only when no slash precedes the colon.
  const scp = /^(?:([A-Za-z0-9._-]+)@)?([A-Za-z0-9.-]+):(?!\/\/)(.+)$/.exec(u);
  if (scp) {
    const [, , host = '', rest = ''] = scp;
    return remoteKey(host, '', 'ssh', rest);
  }
  return undefined;
}

/** Whether two clone URLs name the same repository (both must be acceptable clone URLs). */
export function sameRepository(a: string, b: string): boolean {
  const na = normalizeRepoUrl(a);
  return na !== undefined && na === normalizeRepoUrl(b);
}

/** The first of `allowed` naming the same repository as `url`, as written in `allowed`. */
export function findAllowedRepository(url: string, allowed: readonly string[]): string | undefined {
  const key = normalizeRepoUrl(url);
  if (key === undefined) return undefined;
  return allowed.find((candidate) => normalizeRepoUrl(candidate) === key);
}
