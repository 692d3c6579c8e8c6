/**
 * Which of two pushes to a branch is newer. Arrival order says nothing: webhooks of a burst of
 * pushes arrive in any order, and EventBridge starts their executions as they come. Git says it:
 *
 * 1. the `before` to `after` chain: a push whose `before` is another's `after` (directly, or
 *    through other known pushes) came after it; this needs no call to the git host. Two pushes
 *    each directly after the other (a push, and a forced push back to the commit before it) are
 *    ordered by arrival;
 * 2. ancestry: a push whose commit descends from another's came after it;
 * 3. only where git cannot tell (commits on unrelated histories after a forced push, the same
 *    commit pushed twice, a commit the host no longer has) does the arrival sequence decide.
 *
 * The relation is used by `admit`: a run is superseded only by a newer push, and the newest
 * push of the branch ends applied.
 */

/** A push as ordering needs it. */
export interface OrderedPush {
  readonly commit: string;
  /** The branch's commit before the push (the all-zero SHA for a new branch); unknown for old records. */
  readonly before?: string;
  /** The arrival sequence (`<receivedAt>#<commit>`): the last resort. */
  readonly sequence: string;
}

/** Answers whether `ancestor` is `descendant` or one of its ancestors; undefined when unknown. */
export type AncestryOracle = (ancestor: string, descendant: string) => Promise<boolean | undefined>;

/**
 * Ancestry answers by repository: a commit's ancestors never change (its SHA names them), so a
 * definite answer holds for good, across admit calls of a warm function. Bounded; cleared whole
 * when full.
 */
const KNOWN_ANCESTRY = new Map<string, boolean>();
const KNOWN_ANCESTRY_MAX = 20_000;

/**
 * Decides push order for one admit call: the chain through the pushes it knows first, then the
 * oracle (remembered: commits never change), then the arrival sequence.
 */
export class PushOrder {
  private readonly memo = new Map<string, Promise<boolean | undefined>>();
  private readonly parentOf = new Map<string, string>();

  /**
   * @param known the pushes whose `before` links form the chain
   * @param oracle asks git (or the git host)
   * @param repository scopes remembered answers (a repository's `owner/name`)
   */
  constructor(
    known: Iterable<OrderedPush>,
    private readonly oracle: AncestryOracle,
    private readonly repository = '',
  ) {
    // A commit pushed twice with different `before`s has no single parent in the chain: left out.
    const ambiguous = new Set<string>();
    for (const p of known) {
      if (!p.before || p.before === p.commit) continue;
      const had = this.parentOf.get(p.commit);
      if (had !== undefined && had !== p.before) ambiguous.add(p.commit);
      this.parentOf.set(p.commit, p.before);
    }
    for (const c of ambiguous) this.parentOf.delete(c);
  }

  /** Whether `a` was pushed after `b` (false for the same push). */
  async isNewer(a: OrderedPush, b: OrderedPush): Promise<boolean> {
    if (a.commit === b.commit) return a.sequence > b.sequence;
    const aAfterB = a.before === b.commit;
    const bAfterA = b.before === a.commit;
    if (aAfterB !== bAfterA) return aAfterB;
    if (aAfterB && bAfterA) return a.sequence > b.sequence;
    const aReachesB = this.chainReaches(a.commit, b.commit);
    const bReachesA = this.chainReaches(b.commit, a.commit);
    if (aReachesB !== bReachesA) return aReachesB;
    // Two distinct commits cannot each be the other's ancestor: one answer often settles it.
    if ((await this.ancestor(b.commit, a.commit)) === true) return true;
    if ((await this.ancestor(a.commit, b.commit)) === true) return false;
    return a.sequence > b.sequence;
  }

  /** Whether following `before` links from `from` through the known pushes reaches `to`. */
  private chainReaches(from: string, to: string): boolean {
    const seen = new Set<string>();
    for (let at = this.parentOf.get(from); at !== undefined && !seen.has(at); at = this.parentOf.get(at)) {
      if (at === to) return true;
      seen.add(at);
    }
    return false;
  }

  private ancestor(ancestor: string, descendant: string): Promise<boolean | undefined> {
    const key = `${this.repository}:${ancestor}..${descendant}`;
    const known = KNOWN_ANCESTRY.get(key);
    if (known !== undefined) return Promise.resolve(known);
    let hit = this.memo.get(key);
    if (!hit) {
      hit = this.oracle(ancestor, descendant).then((answer) => {
        if (answer !== undefined) {
          if (KNOWN_ANCESTRY.size >= KNOWN_ANCESTRY_MAX) KNOWN_ANCESTRY.clear();
          KNOWN_ANCESTRY.set(key, answer);
        }
        return answer;
      });
      this.memo.set(key, hit);
    }
    return hit;
  }
}
