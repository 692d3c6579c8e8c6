/**
 * The entries of `pullRequests.authors`: logins (GitHub logins, GitLab usernames), compared
 * without regard to case, and GitHub teams written `@org/team`. Pure, so the webhook (which has
 * no GitHub credentials) and the pipeline function (which has them) read the list the same way.
 */

/** A GitHub team named in `pullRequests.authors`. */
export interface TeamEntry {
  readonly org: string;
  readonly team: string;
  /** As written in the config, `@org/team`. */
  readonly entry: string;
}

/** Whether `login` is listed by name (case-insensitive); team entries are not looked at. */
export function isListedLogin(login: string, authors: readonly string[]): boolean {
  const wanted = login.toLowerCase();
  return authors.some((entry) => !entry.startsWith('@') && entry.toLowerCase() === wanted);
}

/** The `@org/team` entries, in the config's order. */
export function teamEntriesOf(authors: readonly string[]): TeamEntry[] {
  const out: TeamEntry[] = [];
  for (const entry of authors) {
    if (!entry.startsWith('@')) continue;
    const slash = entry.indexOf('/');
    if (slash < 2 || slash === entry.length - 1) continue;
    out.push({ org: entry.slice(1, slash), team: entry.slice(slash + 1), entry });
  }
  return out;
}
