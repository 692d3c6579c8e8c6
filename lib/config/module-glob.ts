/**
 * Module path patterns of the `dependsOn` rules. A pattern is relative to each account's root
 * (`app`, `services/*`), or to the repository's root when it starts with "/"
 * (`/{account}/{region}/app`, where `{account}`, `{region}` and `{stage}` stand for the account's
 * values, so that one rule still serves every account).
 *
 * Within a segment `*` matches any characters and `?` one; a whole segment `**` matches any
 * number of segments, none included. Nothing else is special.
 */

const PLACEHOLDERS = ['{account}', '{region}', '{stage}'] as const;

/** The account values a repository-relative pattern's placeholders stand for. */
export interface GlobAccount {
  readonly account: string;
  readonly region: string;
  readonly stage: string;
}

const SEGMENT = /^(?:[A-Za-z0-9._\-*?]|\{account\}|\{region\}|\{stage\})+$/;

/** Why `glob` is not a module pattern, or undefined when it is one. */
export function globProblem(glob: string): string | undefined {
  const expected =
    'expected a module path pattern such as "app", "services/*" or "/{account}/{region}/app": segments of letters, digits, ".", "_", "-", "*" and "?" separated by "/"';
  if (glob === '' || glob === '/') return `an empty pattern; ${expected}`;
  const repoRelative = glob.startsWith('/');
  const body = repoRelative ? glob.slice(1) : glob;
  const segments = body.split('/');
  if (segments.some((s) => s === '')) return `"${glob}" has an empty segment (a "//" or a trailing "/"); ${expected}`;
  for (const segment of segments) {
    if (segment === '.' || segment === '..') return `"${glob}" has a "${segment}" segment; patterns name modules below the account root (or below the repository root with a leading "/"), never above it`;
    if (!SEGMENT.test(segment)) {
      const bad = [...segment.replace(/\{account\}|\{region\}|\{stage\}/g, '')].find((c) => !/[A-Za-z0-9._\-*?]/.test(c));
      return `"${glob}" has the character "${bad ?? segment}", which a pattern cannot hold; ${expected} (and {account}, {region}, {stage} in a pattern starting with "/")`;
    }
    if (segment.includes('**') && segment !== '**') return `"${glob}" has "**" inside the segment "${segment}"; "**" stands alone between slashes (any number of folders)`;
    if (!repoRelative && PLACEHOLDERS.some((p) => segment.includes(p))) {
      return `"${glob}" uses a placeholder in a pattern relative to the account root, which is that account already; start the pattern with "/" to make it relative to the repository`;
    }
  }
  return undefined;
}

/** Whether the pattern names one path (no `*` or `?`). */
export function isLiteralGlob(glob: string): boolean {
  return !/[*?]/.test(glob);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The repository-relative pattern `glob` stands for in one account: placeholders filled, and an
 * account-relative pattern put below `root`.
 */
export function globInAccount(glob: string, root: string, account: GlobAccount): string {
  if (!glob.startsWith('/')) return `${root}/${glob}`;
  return glob.slice(1).replaceAll('{account}', account.account).replaceAll('{region}', account.region).replaceAll('{stage}', account.stage);
}

/** A matcher of repository-relative paths for a pattern already placed with {@link globInAccount}. */
export function globMatcher(repoGlob: string): (path: string) => boolean {
  const parts = repoGlob.split('/').map((segment) => {
    if (segment === '**') return '(?:/[^/]+)*';
    const body = [...segment].map((c) => (c === '*' ? '[^/]*' : c === '?' ? '[^/]' : escapeRegExp(c))).join('');
    return `/${body}`;
  });
  // Each part carries its leading "/", so "**" can stand for no segment at all.
  const regex = new RegExp(`^${parts.join('')}$`);
  return (path: string) => regex.test(`/${path}`);
}
