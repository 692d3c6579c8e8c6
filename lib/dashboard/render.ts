/**
 * The dashboard's pages, rendered on the server from the same views `tfstep runs --json`,
 * `tfstep show --json` and `tfstep fleet --json` print. Pure: data in, HTML out.
 *
 * Each page is made of fragments (an element id and its inner HTML) and, on a run page, grid
 * cells. The full page embeds them; the live feed (./live.ts) sends the same fragments and cells
 * again when they change, so a page patched live and a page loaded afresh are the same page.
 */
import { createHash } from 'node:crypto';
import { escapeHtml } from '../approval/page';
import type { FleetOutput, FleetRow } from '../operator/fleet';
import type { AccountView, ModuleView, RunDetail, RunSummary, StageView } from '../operator/views';
import { DASHBOARD_CSS, DASHBOARD_SCRIPT } from './assets';

/** How a status reads at a glance: a tone (the colour) and a glyph (the shape), never the colour alone. */
export type Tone = 'ok' | 'bad' | 'run' | 'wait' | 'planned' | 'idle' | 'skip';

const TONES: Record<Tone, { glyph: string; label: string }> = {
  bad: { glyph: '✗', label: 'failed' },
  run: { glyph: '●', label: 'running' },
  wait: { glyph: '‖', label: 'waiting' },
  planned: { glyph: '◐', label: 'planned' },
  ok: { glyph: '✓', label: 'applied' },
  idle: { glyph: '○', label: 'pending' },
  skip: { glyph: '–', label: 'skipped' },
};

/** The tones in the order the legend and the filter list them: what needs a look first. */
export const TONE_ORDER: readonly Tone[] = ['bad', 'run', 'wait', 'planned', 'ok', 'idle', 'skip'];

const TONE_OF: ReadonlyMap<string, Tone> = new Map<string, Tone>([
  ...['FAILED', 'REFUSED', 'REJECTED', 'EXPIRED', 'TIMED_OUT', 'ABORTED', 'ERROR'].map((s) => [s, 'bad'] as const),
  ...['APPLIED', 'SUCCEEDED', 'APPROVED', 'NO_CHANGES', 'CLEAN', 'PASSED', 'PASS'].map((s) => [s, 'ok'] as const),
  ...['RUNNING', 'PLANNING', 'APPLYING', 'STARTED'].map((s) => [s, 'run'] as const),
  ...['AWAITING_APPROVAL', 'WAITING', 'PENDING_REDRIVE'].map((s) => [s, 'wait'] as const),
  ['PLANNED', 'planned'],
  ...['SKIPPED', 'SUPERSEDED', 'DUPLICATE', 'LEFT'].map((s) => [s, 'skip'] as const),
]);

/** The tone of a run, stage, account or module status. */
export function toneOf(status: string): Tone {
  return TONE_OF.get(status) ?? TONE_OF.get(status.toUpperCase().replace(/-/g, '_')) ?? 'idle';
}

/** A status as a badge: glyph and words, coloured by its tone. */
export function badge(status: string): string {
  const tone = toneOf(status);
  return `<span class="b t-${tone}"><span aria-hidden="true">${TONES[tone].glyph}</span> ${escapeHtml(status.toLowerCase().replace(/_/g, ' '))}</span>`;
}

/** Filters of a run page, as its query string carries them. */
export interface GridFilter {
  /** Part of an account name. */
  readonly q?: string;
  /** A {@link Tone}; anything else shows every account. */
  readonly tone?: string;
}

function time(t: string | null | undefined): string {
  return t ? escapeHtml(t.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')) : '-';
}

function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return '-';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = Math.floor(seconds % 60);
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

function sha(commit: string | null | undefined): string {
  return commit ? `<code title="${escapeHtml(commit)}">${escapeHtml(commit.slice(0, 7))}</code>` : '-';
}

/** A path segment for an execution or account name. */
export function seg(name: string): string {
  return encodeURIComponent(name);
}

/** Where each page lives. `base` is '' for `tfstep ui` and `tfstep local serve` alike. */
export const paths = {
  runs: () => '/',
  run: (execution: string) => `/run/${seg(execution)}`,
  account: (execution: string, account: string) => `/run/${seg(execution)}/account/${seg(account)}`,
  fleet: () => '/fleet',
  events: (page: string) => `${page === '/' ? '' : page}/events`,
};

/** What the live feed sends: a page's fragments and cells, and the shape they fit. */
export interface LiveState {
  /** Changes when accounts or stages come or go: the page then loads again. */
  readonly structure: string;
  readonly fragments: Readonly<Record<string, string>>;
  /** Cell id -> [tone, glyph, status text]. */
  readonly cells: Readonly<Record<string, readonly [Tone, string, string]>>;
}

const SCRIPT_HASH = createHash('sha256').update(DASHBOARD_SCRIPT).digest('base64');
const CSS_HASH = createHash('sha256').update(DASHBOARD_CSS).digest('base64');

/**
 * Headers of every dashboard page: a CSP that allows exactly the page's own style and script
 * (by hash), its own origin for the live feed and the account panel, and nothing else.
 */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${CSS_HASH}'; script-src 'sha256-${SCRIPT_HASH}'; connect-src 'self'; img-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex, nofollow',
};

type Nav = 'runs' | 'fleet';

function layout(opts: { title: string; nav: Nav; events?: string; structure?: string; source: string; body: string }): string {
  const attrs = [opts.events ? ` data-events="${escapeHtml(opts.events)}"` : '', opts.structure ? ` data-structure="${escapeHtml(opts.structure)}"` : ''].join('');
  const current = (n: Nav) => (opts.nav === n ? ' aria-current="page"' : '');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(opts.title)} · tfstep</title>
<style>${DASHBOARD_CSS}</style>
</head>
<body${attrs}>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><nav aria-label="Dashboard"><strong>tfstep</strong> <a href="${paths.runs()}"${current('runs')}>Runs</a> <a href="${paths.fleet()}"${current('fleet')}>Fleet</a></nav>
<span class="src">${escapeHtml(opts.source)}</span>
<span id="live" class="live" role="status" aria-live="polite">${opts.events ? 'Not live: scripts are off' : ''}</span></header>
<main id="main">
${opts.body}
</main>
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
}

// ---- runs -------------------------------------------------------------------------------------

function runsRows(runs: readonly RunSummary[]): string {
  if (runs.length === 0) return '<tr><td colspan="8" class="note">No runs yet.</td></tr>';
  return runs
    .map(
      (r) =>
        `<tr><td><a href="${paths.run(r.execution)}">${escapeHtml(r.execution)}</a></td><td>${escapeHtml(r.repository ?? '-')}${r.branch ? ` <span class="small">@ ${escapeHtml(r.branch)}</span>` : ''}</td><td>${sha(r.commit)}</td><td>${escapeHtml(r.pusher ?? '-')}</td><td>${badge(r.status)}</td><td>${escapeHtml(r.stage ?? '-')}</td><td>${time(r.startedAt)}</td><td class="n">${duration(r.durationSeconds)}</td></tr>`,
    )
    .join('\n');
}

/** The runs list's live state. */
export function runsLive(runs: readonly RunSummary[]): LiveState {
  return { structure: 'runs', fragments: { 'runs-body': runsRows(runs) }, cells: {} };
}

/** The runs page: repository, commit, pusher, status, stage and time of recent runs. */
export function renderRunsPage(runs: readonly RunSummary[], source: string): string {
  const live = runsLive(runs);
  const body = `<h1>Runs</h1>
<table class="list">
<caption class="small">Most recent first. The same rows as <code>tfstep runs --json</code>.</caption>
<thead><tr><th scope="col">Run</th><th scope="col">Repository</th><th scope="col">Commit</th><th scope="col">Pushed by</th><th scope="col">Status</th><th scope="col">Stage</th><th scope="col">Started</th><th scope="col" class="n">Duration</th></tr></thead>
<tbody id="runs-body">
${live.fragments['runs-body']}
</tbody>
</table>`;
  return layout({ title: 'Runs', nav: 'runs', events: paths.events(paths.runs()), structure: live.structure, source, body });
}

// ---- a run ------------------------------------------------------------------------------------

function runHead(run: RunDetail): string {
  const rows: [string, string][] = [
    ['Status', badge(run.status)],
    ['Repository', `${escapeHtml(run.repository ?? '-')}${run.branch ? ` @ ${escapeHtml(run.branch)}` : ''}`],
    ['Commit', sha(run.commit)],
    ['Pushed by', escapeHtml(run.pusher ?? '-')],
    ['Stage', escapeHtml(run.stage ?? '-')],
    ['Started', time(run.startedAt)],
    ['Stopped', time(run.stoppedAt)],
    ['Duration', duration(run.durationSeconds)],
  ];
  if (run.reason) rows.push([run.status === 'SUCCEEDED' ? 'Result' : 'Reason', `<span class="msg">${escapeHtml(run.reason)}</span>`]);
  if (run.links.console) rows.push(['Console', `<span class="small">${escapeHtml(run.links.console)}</span>`]);
  if (run.hints.length > 0) rows.push(['Next', run.hints.map((h) => `<code>${escapeHtml(h)}</code>`).join('<br>')]);
  return `<dl>${rows.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>`;
}

function pastTense(decision: string): string {
  return decision === 'approve' ? 'approved' : decision === 'reject' ? 'rejected' : decision;
}

function approvalBlock(stage: StageView): string {
  const a = stage.approval;
  if (!a) return '';
  const decisions = a.decisions.length
    ? `<ul class="dec">${a.decisions.map((d) => `<li><strong>${escapeHtml(d.approver)}</strong> ${escapeHtml(pastTense(d.decision))}${d.at ? ` at ${time(d.at)}` : ''}${d.comment ? `: “${escapeHtml(d.comment)}”` : ''}</li>`).join('')}</ul>`
    : '<p class="small">No decision yet.</p>';
  return `<div class="appr"><h3>Approval ${badge(a.status)}</h3><p class="small">Approvers: ${escapeHtml(a.approvers.join(', ') || '-')}</p>${decisions}</div>`;
}

function toneCounts(accounts: readonly AccountView[]): Map<Tone, number> {
  const counts = new Map<Tone, number>();
  for (const a of accounts) counts.set(toneOf(a.status), (counts.get(toneOf(a.status)) ?? 0) + 1);
  return counts;
}

function legend(accounts: readonly AccountView[]): string {
  const counts = toneCounts(accounts);
  return `<ul class="legend" aria-label="Accounts by status">${TONE_ORDER.filter((t) => counts.has(t))
    .map((t) => `<li><span class="b t-${t}"><span aria-hidden="true">${TONES[t].glyph}</span> ${TONES[t].label}</span> ${counts.get(t)}</li>`)
    .join('')}</ul>`;
}

/** At most this many failed accounts are named in a stage's summary; the grid shows them all. */
const NAMED_FAILURES = 20;

function stageHead(run: RunDetail, stage: StageView, si: number): string {
  const failed = stage.accounts.filter((a) => toneOf(a.status) === 'bad');
  const failures = failed.length
    ? `<div class="fails"><h3>Failed (${failed.length})</h3><ul>${failed
        .slice(0, NAMED_FAILURES)
        .map((a) => `<li><a href="${paths.account(run.execution, a.name)}" data-account="${escapeHtml(a.name)}">${escapeHtml(a.name)}</a>${a.reason ? ` <span class="small">${escapeHtml(firstLine(a.reason))}</span>` : ''}</li>`)
        .join('')}</ul>${failed.length > NAMED_FAILURES ? `<p class="small">and ${failed.length - NAMED_FAILURES} more: filter the grid by “failed”.</p>` : ''}</div>`
    : '';
  const waves = stage.waves
    ? `<ol class="waves">${stage.waves.map((w) => `<li>Wave ${w.wave} ${badge(w.status)} <span class="small">${w.accounts.length} account(s)${w.failed.length ? `, ${w.failed.length} failed` : ''}${w.notStarted.length ? `, ${w.notStarted.length} never started` : ''}</span></li>`).join('')}</ol>`
    : '';
  return `<h2 id="stage-${si}-h">Stage ${escapeHtml(stage.name)} ${badge(stage.status)} <span class="small">${stage.accounts.length} account(s) · ${duration(stage.durationSeconds)}</span></h2>
${approvalBlock(stage)}${waves}${legend(stage.accounts)}${failures}`;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

function cellId(stage: number, account: number): string {
  return `c${stage}-${account}`;
}

const CELLS = new Map<string, readonly [Tone, string, string]>();

function cellOf(a: AccountView): readonly [Tone, string, string] {
  let cell = CELLS.get(a.status);
  if (!cell) {
    const tone = toneOf(a.status);
    cell = [tone, TONES[tone].glyph, a.status.toLowerCase().replace(/_/g, ' ')];
    if (CELLS.size < 100) CELLS.set(a.status, cell);
  }
  return cell;
}

function matches(a: AccountView, filter: GridFilter): boolean {
  if (!filter.q && !filter.tone) return true;
  if (filter.q && !a.name.toLowerCase().includes(filter.q.toLowerCase())) return false;
  if (filter.tone && filter.tone in TONES && toneOf(a.status) !== filter.tone) return false;
  return true;
}

function cellHtml(run: RunDetail, a: AccountView, id: string, filter: GridFilter): string {
  const [tone, glyph, text] = cellOf(a);
  // Kept small: a 10,000-account run is 10,000 of these. The label names the account and its status.
  return `<a class="c t-${tone}" id="${id}" href="${paths.account(run.execution, a.name)}" aria-label="${escapeHtml(a.name)}: ${escapeHtml(text)}"${matches(a, filter) ? '' : ' hidden'}>${glyph}</a>`;
}

/**
 * Cells per block of the grid. Blocks of 100 read like a ruler (a count at a glance), and each
 * block has `content-visibility: auto`, so the browser lays out only the blocks on screen: a
 * 10,000-account page renders in about 0.6 of the time of one flat grid (the dashboard bench row).
 */
const GRID_BLOCK = 100;

function grids(run: RunDetail, stage: StageView, si: number, filter: GridFilter): string {
  const index = new Map(stage.accounts.map((a, i) => [a.name, i]));
  const grid = (accounts: readonly AccountView[], label: string) => {
    const cells = accounts.map((a) => cellHtml(run, a, cellId(si, index.get(a.name)!), filter));
    let blocks = '';
    for (let i = 0; i < cells.length; i += GRID_BLOCK) blocks += `<div class="blk">${cells.slice(i, i + GRID_BLOCK).join('')}</div>`;
    return `<div class="grid" role="group" aria-label="${escapeHtml(label)}">${blocks}</div>`;
  };
  if (!stage.waves) return grid(stage.accounts, `Accounts of stage ${stage.name}`);
  return stage.waves
    .map((w) => {
      const members = stage.accounts.filter((a) => (a.wave ?? 1) === w.wave);
      return `<h3 class="wave">Wave ${w.wave} <span class="small">${members.length} account(s)</span></h3>${grid(members, `Accounts of stage ${stage.name}, wave ${w.wave}`)}`;
    })
    .join('\n');
}

function structureOf(run: RunDetail): string {
  const h = createHash('sha256');
  for (const s of run.stages) {
    h.update(`${s.name}\n`);
    for (const a of s.accounts) h.update(`${a.name}:${a.wave ?? 0}\n`);
  }
  return h.digest('hex').slice(0, 16);
}

/** A run page's live state. */
export function runLive(run: RunDetail): LiveState {
  const fragments: Record<string, string> = { 'run-head': runHead(run), 'run-count': countLine(run) };
  const cells: Record<string, readonly [Tone, string, string]> = {};
  run.stages.forEach((stage, si) => {
    fragments[`stage-${si}`] = stageHead(run, stage, si);
    stage.accounts.forEach((a, ai) => (cells[cellId(si, ai)] = cellOf(a)));
  });
  return { structure: structureOf(run), fragments, cells };
}

function countLine(run: RunDetail): string {
  const total = run.stages.reduce((n, s) => n + s.accounts.length, 0);
  return `${total} account(s) in ${run.stages.length} stage(s)`;
}

function filterForm(action: string, filter: GridFilter): string {
  const options = [['', 'every status'], ...TONE_ORDER.map((t) => [t, TONES[t].label])]
    .map(([v, l]) => `<option value="${v}"${(filter.tone ?? '') === v ? ' selected' : ''}>${l}</option>`)
    .join('');
  return `<form id="filter" class="filter" method="get" action="${escapeHtml(action)}" role="search">
<label for="q">Account</label> <input id="q" name="q" type="search" value="${escapeHtml(filter.q ?? '')}" placeholder="name contains" autocomplete="off">
<label for="tone">Status</label> <select id="tone" name="tone">${options}</select>
<button type="submit">Filter</button> <span id="shown" class="small" aria-live="polite"></span>
</form>
<p id="cell" class="small" aria-hidden="true">Point at or focus a square to see its account.</p>`;
}

/** A run: its summary, then each stage in order with its approval, waves and grid of accounts. */
export function renderRunPage(run: RunDetail, opts: { source: string; filter?: GridFilter; account?: { view: AccountView; stage: string; logTail?: LogTail } }): string {
  const filter = opts.filter ?? {};
  const live = runLive(run);
  const stages = run.stages
    .map(
      (stage, si) => `<section class="stage" aria-labelledby="stage-${si}-h">
<div id="stage-${si}">${live.fragments[`stage-${si}`]}</div>
${grids(run, stage, si, filter)}
</section>`,
    )
    .join('\n');
  const detail = opts.account ? renderAccountPanel(run, opts.account.view, opts.account.stage, opts.account.logTail) : '';
  const body = `<h1>Run <span class="mono">${escapeHtml(run.execution)}</span></h1>
<section class="card" id="run-head" aria-label="Run">${live.fragments['run-head']}</section>
<p class="small"><span id="run-count">${live.fragments['run-count']}</span>. Each square is an account: its mark and colour say its status; open one for its modules, plans, outcome and log. The same data as <code>tfstep show ${escapeHtml(run.execution)} --json</code>.</p>
${filterForm(paths.run(run.execution), filter)}
<div id="detail" class="detail" tabindex="-1"${detail ? '' : ' hidden'}>${detail}</div>
${stages || '<p class="note">No stage has run yet.</p>'}`;
  return layout({ title: `Run ${run.execution}`, nav: 'runs', events: paths.events(paths.run(run.execution)), structure: live.structure, source: opts.source, body });
}

// ---- an account -------------------------------------------------------------------------------

/** The end of an account's runner logs: per task (account and phase) its last lines. */
export interface LogTail {
  readonly sections: readonly { readonly title: string; readonly lines: readonly string[] }[];
  readonly notes: readonly string[];
  /** The command that prints the whole log. */
  readonly command?: string;
}

/** How many resources a list of addresses counts, `... and N more` included. */
export function addressCount(addresses: readonly string[] | undefined): number {
  if (!addresses?.length) return 0;
  const more = /^\.\.\. and (\d+) more$/.exec(addresses.at(-1) ?? '');
  return more ? addresses.length - 1 + Number(more[1]) : addresses.length;
}

/** Modules that destroy or replace something first, then the rest in their order. */
export function riskyFirst(modules: readonly ModuleView[]): ModuleView[] {
  const risk = (m: ModuleView) => (m.plan?.destroy ?? 0) + addressCount(m.replaced);
  return modules
    .map((m, i) => ({ m, i }))
    .sort((a, b) => Number(risk(b.m) > 0) - Number(risk(a.m) > 0) || a.i - b.i)
    .map(({ m }) => m);
}

function moduleRows(modules: readonly ModuleView[]): string {
  return riskyFirst(modules)
    .map((m) => {
      const p = m.plan;
      const destroy = p ? (p.destroy > 0 ? `<span class="danger">${p.destroy}</span>` : '0') : '-';
      const replaced = addressCount(m.replaced);
      const replace = p ? (replaced > 0 ? `<span class="danger">${replaced}</span>` : '0') : '-';
      const notes = [
        m.skippedBecause ? `<div class="small">skipped: ${escapeHtml(m.skippedBecause)} did not succeed</div>` : '',
        m.error && !m.skippedBecause ? `<div class="err msg">${escapeHtml(m.error)}</div>` : '',
        m.replan ? `<div class="small">planned again after its upstreams applied; differs from the approved plan: ${escapeHtml(m.replan.differences.join('; ') || 'see tfstep show')}</div>` : '',
        m.mayChangeAfter ? `<div class="small">may change after ${escapeHtml(m.mayChangeAfter.join(', '))} apply</div>` : '',
        m.deleted?.length ? `<details><summary>destroys ${addressCount(m.deleted)}</summary><ul>${m.deleted.map((a) => `<li><code>${escapeHtml(a)}</code></li>`).join('')}</ul></details>` : '',
        m.replaced?.length ? `<details><summary>replaces ${replaced}</summary><ul>${m.replaced.map((a) => `<li><code>${escapeHtml(a)}</code></li>`).join('')}</ul></details>` : '',
      ].join('');
      return `<tr><td><code>${escapeHtml(m.path)}</code>${notes}</td><td>${escapeHtml(m.phase ?? '-')}</td><td>${badge(m.status)}</td><td class="n">${destroy}</td><td class="n">${replace}</td><td class="n">${p ? p.add : '-'}</td><td class="n">${p ? p.change : '-'}</td><td class="n">${duration(m.durationSeconds)}</td></tr>`;
    })
    .join('\n');
}

/** One account of a run: outcome, failure reason, modules with plans (destroys and replacements first), log tail. */
export function renderAccountPanel(run: RunDetail, account: AccountView, stage: string, logTail?: LogTail): string {
  const reason = account.reason ?? account.modules.find((m) => m.error && !m.skippedBecause)?.error;
  const logs = logTail
    ? `<h3>Log tail</h3>${logTail.notes.map((n) => `<p class="small">${escapeHtml(n)}</p>`).join('')}${logTail.sections
        .map((s) => `<h4>${escapeHtml(s.title)}</h4><pre class="log">${escapeHtml(s.lines.join('\n'))}</pre>`)
        .join('')}${logTail.sections.length === 0 && logTail.notes.length === 0 ? '<p class="note">No runner log yet.</p>' : ''}<p class="small">The whole log: <code>${escapeHtml(logTail.command ?? `tfstep logs ${run.execution} --account ${account.name}`)}</code></p>`
    : '';
  return `<h2 id="detail-h">Account ${escapeHtml(account.name)} ${badge(account.status)}</h2>
<p class="small">Stage ${escapeHtml(stage)}${account.wave !== null ? `, wave ${account.wave}` : ''} · ${duration(account.durationSeconds)} · <a href="${paths.account(run.execution, account.name)}">link to this account</a> · <a href="${paths.run(run.execution)}" data-close="1">close</a></p>
${reason ? `<div class="fail" role="note"><strong>Why it failed:</strong> <span class="msg">${escapeHtml(reason)}</span></div>` : ''}
<table class="list">
<caption class="small">Modules, those that destroy or replace resources first.</caption>
<thead><tr><th scope="col">Module</th><th scope="col">Phase</th><th scope="col">Outcome</th><th scope="col" class="n">Destroy</th><th scope="col" class="n">Replace</th><th scope="col" class="n">Add</th><th scope="col" class="n">Change</th><th scope="col" class="n">Time</th></tr></thead>
<tbody>
${moduleRows(account.modules) || '<tr><td colspan="8" class="note">No module yet.</td></tr>'}
</tbody>
</table>
${logs}`;
}

/** Finds an account of a run, with its stage. */
export function findAccount(run: RunDetail, name: string): { view: AccountView; stage: string } | undefined {
  for (const s of run.stages) {
    const view = s.accounts.find((a) => a.name === name);
    if (view) return { view, stage: s.name };
  }
  return undefined;
}

// ---- the fleet --------------------------------------------------------------------------------

/** A field other parts of tfstep may add to a fleet row (drift, policy), read without knowing its exact shape. */
function optionalStatus(value: unknown): { status: string; detail: string } | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return { status: String(value), detail: '' };
  if (typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  const text = (...keys: string[]): string | undefined => keys.map((k) => v[k]).find((x): x is string => typeof x === 'string');
  const status = text('status', 'state', 'result', 'outcome');
  const when = text('checkedAt', 'detectedAt', 'at', 'evaluatedAt');
  const count = ['violations', 'findings', 'changes', 'resources'].map((k) => v[k]).find((x) => typeof x === 'number' || Array.isArray(x));
  const n = Array.isArray(count) ? count.length : typeof count === 'number' ? count : undefined;
  return { status: status ?? 'unknown', detail: [n !== undefined ? `${n}` : '', when ? time(when) : ''].filter(Boolean).join(' · ') };
}

function optionalCell(value: unknown): string {
  const s = optionalStatus(value);
  return s ? `${badge(s.status)}${s.detail ? ` <span class="small">${s.detail}</span>` : ''}` : '-';
}

function waveRank(wave: string | null): number {
  return wave ? Number(wave.split('/')[0]) : Number.MAX_SAFE_INTEGER;
}

/** Fleet rows by stage (in `stageOrder`), then wave, then name. */
export function fleetOrder(rows: readonly FleetRow[], stageOrder: readonly string[]): FleetRow[] {
  const rank = (s: string) => (stageOrder.indexOf(s) === -1 ? stageOrder.length : stageOrder.indexOf(s));
  return [...rows].sort((a, b) => rank(a.stage) - rank(b.stage) || a.stage.localeCompare(b.stage) || waveRank(a.wave) - waveRank(b.wave) || a.name.localeCompare(b.name));
}

function fleetBody(fleet: FleetOutput, stageOrder: readonly string[]): string {
  const rows = fleetOrder(fleet.accounts, stageOrder);
  if (rows.length === 0) return '<p class="note">No accounts: the config lists none and the fleet registry is empty (<code>tfstep fleet refresh</code>).</p>';
  const extra = rows as readonly (FleetRow & { drift?: unknown; policy?: unknown })[];
  const hasDrift = extra.some((r) => r.drift !== undefined);
  const hasPolicy = extra.some((r) => r.policy !== undefined);
  const stages = [...new Set(rows.map((r) => r.stage))];
  const refresh = fleet.lastRefresh
    ? `<p class="small">Fleet refreshed ${time(fleet.lastRefresh.refreshedAt)} from ${escapeHtml(fleet.lastRefresh.from)}: ${fleet.lastRefresh.active} active, ${fleet.lastRefresh.added} added, ${fleet.lastRefresh.moved} moved, ${fleet.lastRefresh.left} left.</p>`
    : '';
  return (
    refresh +
    stages
      .map((stage) => {
        const members = extra.filter((r) => r.stage === stage);
        const body = members
          .map((r) => {
            const applied = r.applied.length
              ? r.applied.map((m) => `<code>${escapeHtml(m.module)}</code>@${sha(m.commit)} <span class="small">${time(m.appliedAt)}</span>`).join('<br>')
              : '<span class="note">nothing applied yet</span>';
            return `<tr><td>${escapeHtml(r.name)}</td><td><code>${escapeHtml(r.id)}</code></td><td>${escapeHtml(r.wave ?? '-')}</td><td>${escapeHtml(r.region)}</td><td>${escapeHtml(r.source === 'explicit' ? 'listed' : `${r.source} ${r.matched}`)}${r.previousStage ? ` <span class="small">(was ${escapeHtml(r.previousStage)})</span>` : ''}</td><td>${badge(r.status)}</td><td>${applied}</td>${hasDrift ? `<td>${optionalCell(r.drift)}</td>` : ''}${hasPolicy ? `<td>${optionalCell(r.policy)}</td>` : ''}</tr>`;
          })
          .join('\n');
        return `<section class="stage"><h2>Stage ${escapeHtml(stage)} <span class="small">${members.length} account(s)</span></h2>
<table class="list"><thead><tr><th scope="col">Account</th><th scope="col">Id</th><th scope="col">Wave</th><th scope="col">Region</th><th scope="col">Source</th><th scope="col">Status</th><th scope="col">Last applied</th>${hasDrift ? '<th scope="col">Drift</th>' : ''}${hasPolicy ? '<th scope="col">Policy</th>' : ''}</tr></thead>
<tbody>
${body}
</tbody></table></section>`;
      })
      .join('\n')
  );
}

/** The fleet page's live state. */
export function fleetLive(fleet: FleetOutput, stageOrder: readonly string[]): LiveState {
  return { structure: 'fleet', fragments: { 'fleet-body': fleetBody(fleet, stageOrder) }, cells: {} };
}

/** The fleet: accounts by stage and wave with the last applied commit, drift and policy where known. */
export function renderFleetPage(fleet: FleetOutput | { error: string }, stageOrder: readonly string[], source: string): string {
  if ('error' in fleet) {
    return layout({ title: 'Fleet', nav: 'fleet', source, body: `<h1>Fleet</h1><p class="banner bad" role="alert">${escapeHtml(fleet.error)}</p>` });
  }
  const live = fleetLive(fleet, stageOrder);
  const body = `<h1>Fleet</h1>
<p class="small">Accounts by stage and wave, with the last commit applied to each module. The same data as <code>tfstep fleet --json</code>.</p>
<div id="fleet-body">${live.fragments['fleet-body']}</div>`;
  return layout({ title: 'Fleet', nav: 'fleet', events: paths.events(paths.fleet()), structure: live.structure, source, body });
}

/** A page saying what went wrong (no such run, a backend error). */
export function renderProblemPage(title: string, message: string, source: string): string {
  return layout({ title, nav: 'runs', source, body: `<h1>${escapeHtml(title)}</h1><p class="banner bad" role="alert">${escapeHtml(message)}</p><p><a href="${paths.runs()}">Back to the runs</a></p>` });
}
