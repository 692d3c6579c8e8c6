/**
 * The summary of a pull request's plans, as a GitHub check run shows it (and a GitLab note):
 * one table row per module with changes, by stage, account and module, with add, change and
 * destroy counts; destroys and replacements first; modules without changes folded away; a link
 * to each full log.
 *
 * GitHub refuses a check run whose `output.summary` is longer than 65,535 characters ("Create a
 * check run", https://docs.github.com/rest/checks/runs#create-a-check-run: "Maximum length:
 * 65535 characters"; GitHub answers "Only 65535 characters are allowed" and, by reports, counts
 * bytes). The rows are added largest first while they fit in that many UTF-8 bytes, and one line
 * counts the rest. Pure: no I/O.
 *
 * Only counts and resource addresses appear, never an attribute value: a plan's values may hold
 * secrets, and a pull request is read by more people than the accounts' operators.
 */

/** What GitHub accepts in a check run's `output.summary`. */
export const CHECK_RUN_SUMMARY_LIMIT = 65_535;

/** How one module's plan ended. */
export type PlanRowStatus = 'changes' | 'clean' | 'failed' | 'skipped' | 'not-allowed';

/** One module of one account, planned (or not) for the pull request. */
export interface PlanRow {
  readonly stage: string;
  readonly account: string;
  readonly module: string;
  readonly status: PlanRowStatus;
  readonly add: number;
  readonly change: number;
  readonly destroy: number;
  /** Addresses of resources destroyed (no values). */
  readonly destroyed?: readonly string[];
  /** Addresses of resources replaced (destroyed and created again). */
  readonly replaced?: readonly string[];
  /** Why it failed or was skipped, one line. */
  readonly reason?: string;
  /** The full log of the module's plan. */
  readonly logUrl?: string;
}

/** What the summary is rendered from. */
export interface PullRequestSummaryInput {
  readonly number: number;
  readonly headSha: string;
  /** The stages in their configured order (rows sort by it within a group). */
  readonly stageOrder: readonly string[];
  readonly rows: readonly PlanRow[];
  /** Warnings of plan policies: the check concludes neutral when there are any and nothing failed. */
  readonly policyWarnings?: readonly string[];
  /** The run's page (local `GET /runs/<id>`, the console), linked at the end. */
  readonly runUrl?: string;
  /** The command that prints the plan logs (`tfstep logs <run>`), shown at the end for readers without console access. */
  readonly logsCommand?: string;
  /** Byte budget; tests lower it. @default CHECK_RUN_SUMMARY_LIMIT */
  readonly limitBytes?: number;
}

/** A check run's conclusion as GitHub names it. */
export type CheckConclusion = 'success' | 'failure' | 'neutral';

/** The rendered check run output. */
export interface PullRequestSummary {
  readonly title: string;
  readonly summary: string;
  readonly conclusion: CheckConclusion;
  /** Rows in the table and rows only counted, for logs and tests. */
  readonly listed: number;
  readonly counted: number;
}

const MAX_ADDRESSES_PER_ROW = 3;

function bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Text safe inside a table cell: no pipe, no newline, no HTML, no backtick breaking the code span. */
function cell(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function code(text: string): string {
  return `\`${cell(text).replace(/`/g, "'")}\``;
}

/** 0: destroys or replacements, 1: failed, 2: other changes, 3: skipped or not allowed. */
function group(row: PlanRow): number {
  if (row.status === 'changes' && (row.destroy > 0 || (row.replaced?.length ?? 0) > 0)) return 0;
  if (row.status === 'failed') return 1;
  if (row.status === 'changes') return 2;
  return 3;
}

function size(row: PlanRow): number {
  return row.add + row.change + row.destroy;
}

function addressesCell(row: PlanRow): string {
  const items = [...(row.destroyed ?? []).map((a) => `destroy ${code(a)}`), ...(row.replaced ?? []).map((a) => `replace ${code(a)}`)];
  const shown = items.slice(0, MAX_ADDRESSES_PER_ROW);
  const more = items.length - shown.length;
  return [...shown, ...(more > 0 ? [`+${more} more`] : [])].join('<br>');
}

function statusCell(row: PlanRow): string {
  switch (row.status) {
    case 'changes':
      return row.destroy > 0 || (row.replaced?.length ?? 0) > 0 ? ':warning: destroys' : 'changes';
    case 'failed':
      return ':x: plan failed';
    case 'skipped':
      return 'skipped';
    case 'not-allowed':
      return 'not allowed';
    case 'clean':
      return 'no changes';
  }
}

function rowLine(row: PlanRow): string {
  // encodeURIComponent leaves parentheses alone, and they would end the link early.
  const log = row.logUrl ? `[log](${row.logUrl.replace(/[()\s]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0').toUpperCase()}`)})` : '';
  const notes = row.status === 'changes' ? [addressesCell(row), cell(row.reason ?? '')].filter((t) => t !== '').join('<br>') : cell(row.reason ?? '');
  return `| ${cell(row.stage)} | ${cell(row.account)} | ${code(row.module)} | ${statusCell(row)} | ${row.add} | ${row.change} | ${row.destroy} | ${notes} | ${log} |`;
}

const TABLE_HEAD = '| Stage | Account | Module | Result | Add | Change | Destroy | Destroys and replacements | Log |\n| --- | --- | --- | --- | ---: | ---: | ---: | --- | --- |';

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * Renders the summary. Rows sort destroys and replacements first, then failed plans, then other
 * changes, each group largest first, then by stage order, account and module; modules without
 * changes are only counted (folded). Whatever the number of rows, the result fits `limitBytes`.
 */
export function renderPullRequestSummary(input: PullRequestSummaryInput): PullRequestSummary {
  const limit = input.limitBytes ?? CHECK_RUN_SUMMARY_LIMIT;
  const stageIndex = new Map(input.stageOrder.map((s, i) => [s, i]));
  const shown = input.rows.filter((r) => r.status !== 'clean');
  const clean = input.rows.filter((r) => r.status === 'clean');
  shown.sort(
    (a, b) =>
      group(a) - group(b) ||
      b.destroy + (b.replaced?.length ?? 0) - (a.destroy + (a.replaced?.length ?? 0)) ||
      size(b) - size(a) ||
      (stageIndex.get(a.stage) ?? 1e9) - (stageIndex.get(b.stage) ?? 1e9) ||
      a.account.localeCompare(b.account) ||
      a.module.localeCompare(b.module),
  );

  const changed = input.rows.filter((r) => r.status === 'changes');
  const failed = input.rows.filter((r) => r.status === 'failed');
  const total = { add: 0, change: 0, destroy: 0 };
  for (const r of changed) {
    total.add += r.add;
    total.change += r.change;
    total.destroy += r.destroy;
  }
  const accounts = new Set(input.rows.map((r) => r.account));
  const warnings = input.policyWarnings ?? [];
  const conclusion: CheckConclusion = failed.length > 0 ? 'failure' : warnings.length > 0 ? 'neutral' : 'success';
  const counts = `${total.add} to add, ${total.change} to change, ${total.destroy} to destroy`;
  const title =
    failed.length > 0
      ? `${plural(failed.length, 'plan')} failed; ${counts}`
      : changed.length === 0
        ? `No changes in ${plural(accounts.size, 'account')}`
        : `${counts} in ${plural(new Set(changed.map((r) => r.account)).size, 'account')}`;

  const head = [
    `**Plan of #${input.number} at \`${input.headSha.slice(0, 12)}\`**: ${counts}, in ${plural(changed.length, 'module')} with changes across ${plural(accounts.size, 'account')}.`,
    ...(failed.length > 0 ? [`:x: ${plural(failed.length, 'plan')} failed.`] : []),
    ...warnings.slice(0, 20).map((w) => `:warning: ${cell(w).slice(0, 300)}`),
    ...(warnings.length > 20 ? [`:warning: and ${warnings.length - 20} more policy warnings`] : []),
    '',
    'These plans are a preview: nothing from them is applied. The deploy after merge makes its own plans.',
    '',
  ].join('\n');
  const folded =
    clean.length > 0 ? `\n\n<details><summary>${plural(clean.length, 'module')} without changes in ${plural(new Set(clean.map((r) => r.account)).size, 'account')}</summary>\n\n` : '';
  const foldedEnd = clean.length > 0 ? '\n\n</details>' : '';
  // The links and the command are part of the budget: the reserve below counts the tail, and each
  // row's line its log link.
  const tail = [
    ...(input.runUrl ? [`\n\n[Full run](${input.runUrl})`] : []),
    ...(input.logsCommand ? [`\n\nThe plan logs from a terminal: ${code(input.logsCommand)} (\`--account\` and \`--module\` narrow it).`] : []),
  ].join('');

  // The line that counts what did not fit, at its longest, is reserved before rows are added.
  const moreLine = (n: number, c: { add: number; change: number; destroy: number }) =>
    `\n\n…and ${plural(n, 'more module')} not listed (${c.add} to add, ${c.change} to change, ${c.destroy} to destroy); the logs list every module.`;
  const reserve = bytes(moreLine(input.rows.length, { add: total.add, change: total.change, destroy: total.destroy })) + bytes(folded) + bytes(foldedEnd) + bytes(tail) + 16;

  let body = shown.length > 0 ? `${head}\n${TABLE_HEAD}` : head;
  let used = bytes(body);
  let listed = 0;
  for (const row of shown) {
    const line = `\n${rowLine(row)}`;
    const b = bytes(line);
    if (used + b + reserve > limit) break;
    body += line;
    used += b;
    listed += 1;
  }
  const rest = shown.slice(listed);
  if (rest.length > 0) {
    const c = { add: 0, change: 0, destroy: 0 };
    for (const r of rest) {
      c.add += r.add;
      c.change += r.change;
      c.destroy += r.destroy;
    }
    body += moreLine(rest.length, c);
  }
  if (clean.length > 0) {
    // The folded list names what fits and counts the rest.
    let list = '';
    let more = 0;
    for (const [i, r] of clean.entries()) {
      const item = `${i === 0 ? '' : ', '}${cell(r.account)} ${code(r.module)}`;
      if (bytes(body) + bytes(folded) + bytes(list) + bytes(item) + bytes(foldedEnd) + bytes(tail) + 64 > limit) {
        more = clean.length - i;
        break;
      }
      list += item;
    }
    body += `${folded}${list}${more > 0 ? ` and ${more} more` : ''}${foldedEnd}`;
  }
  body += tail;
  return { title: title.slice(0, 255), summary: body, conclusion, listed, counted: rest.length };
}
