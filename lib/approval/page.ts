import { createHash } from 'node:crypto';
import { approvalsOf, findApprover, findPolicyOwner, isDenied, isOverridden, isPusher, remainingApprovals } from './decide';
import { mayChangeMark } from '../domain/replan';
import type { PlanSummary } from '../domain/runner-contract';
import { previousReason, replanHeadline } from './request';
import { totalsLine, type ApprovalView, type ModuleSummary } from './types';

/** The page's only stylesheet; the Content-Security-Policy allows exactly this text by hash. */
export const PAGE_CSS = `
:root{color-scheme:light;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#f6f8fa;--red:#b3261e;--red-bg:#fdecea;--green:#1a7f37;--blue:#0969da}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:60rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.6rem;margin:0 0 .25rem}
h2{font-size:1.15rem;margin:1.75rem 0 .5rem}
.sub{color:var(--muted);margin:0 0 1.25rem}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:1rem 1.25rem;margin:0 0 1rem}
.card>h2:first-child{margin-top:0}
caption{text-align:left;caption-side:top;padding:0 0 .25rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.25rem;margin:0}
dt{color:var(--muted)}
dd{margin:0;overflow-wrap:anywhere}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.msg{white-space:pre-wrap}
table{width:100%;border-collapse:collapse;margin:.25rem 0 .5rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;color:var(--muted);font-size:.9rem}
td.n{font-variant-numeric:tabular-nums;text-align:right;width:5.5rem}
th.n{text-align:right}
.danger{color:var(--red);font-weight:700}
.addr{margin:.25rem 0 .75rem;padding:.5rem .75rem;border-left:4px solid var(--red);background:var(--red-bg);color:var(--red);border-radius:4px}
.addr ul{margin:.25rem 0 0;padding-left:1.25rem}
.note{color:var(--muted);font-style:italic}
.banner{padding:.75rem 1rem;border-radius:8px;margin:0 0 1rem;border:1px solid var(--line);background:#fff}
.banner.ok{border-color:var(--green);color:var(--green)}
.banner.bad{border-color:var(--red);color:var(--red);background:var(--red-bg)}
.banner.stopped{border-color:var(--red);color:var(--red)}
form label{display:block;font-weight:600;margin:0 0 .35rem}
textarea{width:100%;min-height:5rem;padding:.5rem;font:inherit;border:1px solid var(--line);border-radius:6px}
.actions{display:flex;gap:.75rem;margin-top:.9rem;flex-wrap:wrap}
button{font:inherit;font-weight:600;padding:.6rem 1.4rem;border-radius:6px;border:1px solid transparent;cursor:pointer}
button.approve{background:var(--green);color:#fff}
button.reject{background:#fff;color:var(--red);border-color:var(--red)}
button:disabled{background:#eaeef2;color:var(--muted);border-color:var(--line);cursor:not-allowed}
button:focus-visible,textarea:focus-visible{outline:3px solid var(--blue);outline-offset:2px}
.small{font-size:.9rem;color:var(--muted)}
.mark{display:block;font-size:.85rem;color:var(--blue)}
.again{margin:.25rem 0 .75rem;padding:.5rem .75rem;border-left:4px solid var(--blue);background:var(--bg);border-radius:4px}
.again ul{margin:.25rem 0 0;padding-left:1.25rem}
.policy{margin:0 0 1rem;padding:.75rem 1rem;border-radius:8px;border:1px solid var(--line);background:#fff}
.policy.deny{border-color:var(--red);background:var(--red-bg);color:var(--red)}
.policy.warn{border-color:#9a6700;background:#fff8c5}
.policy ul{margin:.25rem 0 0;padding-left:1.25rem}
button.override{background:var(--red);color:#fff}
input[type=text]{width:100%;padding:.5rem;font:inherit;border:1px solid var(--line);border-radius:6px}
`;

const CSS_HASH = createHash('sha256').update(PAGE_CSS).digest('base64');

/** Headers every approval answer carries. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${CSS_HASH}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-robots-tag': 'noindex, nofollow',
};

/** Escapes text for HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)} · tfstep</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

function utc(epochSeconds: number): string {
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

function relative(seconds: number): string {
  if (seconds <= 0) return 'expired';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `in ${h} h ${m} min` : `in ${Math.max(1, m)} min`;
}

function shaCell(sha: string | undefined): string {
  return sha ? `<code title="${escapeHtml(sha)}">${escapeHtml(sha.slice(0, 12))}</code>` : '<span class="note">none</span>';
}

function countCells(plan: PlanSummary | undefined): string {
  if (!plan) return '<td colspan="3" class="note">summary not available</td>';
  return `<td class="n">${plan.add}</td><td class="n">${plan.change}</td><td class="n">${plan.destroy > 0 ? `<span class="danger">${plan.destroy}</span>` : '0'}</td>`;
}

/** A module asked again: the plan approved before beside the new one, and what differs. */
function againNote(m: ModuleSummary): string {
  const prev = m.previous;
  if (!prev) return '';
  const differs = (prev.differences ?? []).map((d) => `<li>${escapeHtml(d)}</li>`).join('');
  return `<div class="again" role="note"><strong>Asked again for <code>${escapeHtml(m.path)}</code>:</strong> ${escapeHtml(previousReason(prev))}.
<table>
<thead><tr><th scope="col">Plan</th><th scope="col" class="n">Add</th><th scope="col" class="n">Change</th><th scope="col" class="n">Destroy</th><th scope="col">Plan SHA-256</th></tr></thead>
<tbody>
<tr><td>Approved before</td>${countCells(prev.plan)}<td>${shaCell(prev.planSha256)}</td></tr>
<tr><td>New plan, to approve</td>${countCells(m.plan)}<td>${shaCell(m.planSha256)}</td></tr>
</tbody>
</table>
${differs ? `<p class="small">What differs, as found when it was planned again after its upstreams applied:</p><ul>${differs}</ul>` : ''}</div>`;
}

function planTables(approval: ApprovalView): string {
  return approval.summaries
    .map((account) => {
      const rows = account.modules
        .map((m) => {
          const sha = shaCell(m.planSha256);
          const mark = mayChangeMark(m.mayChangeAfter);
          const name = `<code>${escapeHtml(m.path)}</code>${mark ? `<span class="mark">${escapeHtml(mark)}</span>` : ''}`;
          if (!m.plan) {
            return `<tr><td>${name}</td><td colspan="3" class="note">${escapeHtml(m.note ?? 'plan summary not available')}</td><td>${sha}</td></tr>`;
          }
          return `<tr><td>${name}</td>${countCells(m.plan)}<td>${sha}</td></tr>`;
        })
        .join('\n');
      const risky = account.modules
        .filter((m) => (m.plan?.deleted.length ?? 0) + (m.plan?.replaced.length ?? 0) > 0)
        .map((m) => {
          const del = (m.plan?.deleted ?? []).map((a) => `<li>destroy <code>${escapeHtml(a)}</code></li>`).join('');
          const rep = (m.plan?.replaced ?? []).map((a) => `<li>replace (destroy, then create) <code>${escapeHtml(a)}</code></li>`).join('');
          return `<div class="addr" role="note"><strong>Deletions in <code>${escapeHtml(m.path)}</code>:</strong><ul>${del}${rep}</ul></div>`;
        })
        .join('\n');
      const again = account.modules.map(againNote).join('\n');
      const marked = account.modules.some((m) => m.mayChangeAfter?.length)
        ? '<p class="small">A plan marked "may change" is planned again after its upstreams apply: it applies if its changes are the same, and is brought back for approval if they differ.</p>'
        : '';
      return `<section class="card" aria-labelledby="acct-${escapeHtml(account.account)}">
<h2 id="acct-${escapeHtml(account.account)}">Account ${escapeHtml(account.account)} <span class="small">${escapeHtml(account.accountId)} · ${escapeHtml(account.region)}</span></h2>
<table>
<caption class="small">Plan per module: resources to add, change and destroy; the hash is of the exact plan that will be applied.</caption>
<thead><tr><th scope="col">Module</th><th scope="col" class="n">Add</th><th scope="col" class="n">Change</th><th scope="col" class="n">Destroy</th><th scope="col">Plan SHA-256</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
${marked}
${risky}
${again}
</section>`;
    })
    .join('\n');
}

/** The plan policies' verdict and every finding, shown before anything else. */
function policySection(approval: ApprovalView): string {
  const policy = approval.policy;
  if (!policy) return '';
  const items = approval.summaries.flatMap((account) =>
    account.modules.flatMap((m) =>
      (m.policy?.findings ?? []).map((f) => {
        const addresses = f.addresses.map((a) => `<li><code>${escapeHtml(a)}</code></li>`).join('');
        return `<li><strong>${f.effect.toUpperCase()}</strong> <code>${escapeHtml(f.rule)}</code> in ${escapeHtml(account.account)}/<code>${escapeHtml(m.path)}</code>: ${escapeHtml(f.message)}${addresses ? `<ul>${addresses}</ul>` : ''}</li>`;
      }),
    ),
  );
  const escalated = policy.escalated ? `<p>Approval asked by a plan policy: ${escapeHtml(policy.escalated)}.</p>` : '';
  let head: string;
  if (policy.status === 'deny') {
    head = isOverridden(approval)
      ? `<strong>Denied by a plan policy, and overridden</strong> by ${escapeHtml(
          Object.values(approval.decisions)
            .filter((d) => d.override)
            .map((d) => `${d.approver} (“${d.override!.reason}”)`)
            .join(', '),
        )}.`
      : `<strong>Denied by a plan policy.</strong> Nothing applies unless a policy owner (${escapeHtml(policy.owners.join(', ') || 'none configured')}) overrides the deny, with a reason.`;
  } else if (policy.status === 'warn') {
    head = '<strong>Warnings from the plan policies.</strong> Read them before you approve.';
  } else {
    head = policy.escalated ? '' : 'Plan policies: every plan passed.';
  }
  return `<section class="policy ${policy.status}" role="${policy.status === 'pass' ? 'note' : 'alert'}" aria-label="Plan policies">
${escalated}${head ? `<p>${head}</p>` : ''}
${items.length > 0 ? `<ul>${items.join('\n')}</ul>` : ''}
</section>`;
}

/** What the approval page needs besides the approval. */
export interface ApprovalPageContext {
  /** The approver this link belongs to. */
  readonly approver: string;
  /** Where the form posts: the link's own path and query. */
  readonly action: string;
  readonly csrf: string;
  readonly nowEpochSeconds: number;
}

/** The approval page: what will be applied, who approved, and the Approve / Reject form. */
export function renderApprovalPage(approval: ApprovalView, ctx: ApprovalPageContext): string {
  const approvals = approvalsOf(approval);
  const remaining = remainingApprovals(approval);
  const mine = Object.values(approval.decisions).find((d) => d.approver.toLowerCase() === ctx.approver.toLowerCase());
  const owner = findPolicyOwner(approval, ctx.approver) !== undefined;
  const denied = isDenied(approval) && !isOverridden(approval);
  const listed = findApprover(approval, ctx.approver) !== undefined || (isDenied(approval) && owner);
  const selfBlocked = !approval.allowSelfApproval && isPusher(ctx.approver, approval.pusher);
  const open = approval.status === 'PENDING' && approval.deadline > ctx.nowEpochSeconds;
  const destroys = approval.totals.destroy;
  const accounts = approval.totals.accounts;
  const omitted =
    approval.omittedAccounts > 0
      ? `<p class="note" role="note">${approval.omittedAccounts} more account(s) are not listed here: the page lists accounts with deletions, replacements or unreadable plans first. Every account is counted in the totals: ${escapeHtml(totalsLine(approval.totals))}.</p>`
      : '';

  const askedAgain = approval.replan ? `<p class="banner" role="note">${escapeHtml(replanHeadline(approval.replan))}</p>` : '';
  let banner = '';
  if (approval.status === 'APPROVED') banner = `<p class="banner ok" role="status">Approved by ${escapeHtml(approvals.map((d) => d.approver).join(', '))}. The apply has started.</p>`;
  else if (approval.status === 'REJECTED') banner = `<p class="banner bad" role="status">${escapeHtml(approval.closedReason ?? 'Rejected.')}</p>`;
  else if (!open) banner = `<p class="banner bad" role="status">This approval is closed: ${escapeHtml(approval.closedReason ?? 'it expired')}. Nothing was applied.</p>`;
  else if (mine) banner = `<p class="banner ok" role="status">You ${mine.decision === 'approve' ? 'approved' : 'rejected'} this at ${escapeHtml(mine.at)}.</p>`;

  const approvedBy = approvals.length > 0 ? approvals.map((d) => `${escapeHtml(d.approver)}${d.comment ? ` (“${escapeHtml(d.comment)}”)` : ''}`).join(', ') : 'nobody yet';
  const commitText = approval.push.url
    ? `<code>${escapeHtml(approval.push.commit)}</code> <span class="small">(${escapeHtml(approval.push.url)})</span>`
    : `<code>${escapeHtml(approval.push.commit)}</code>`;

  let form = '';
  if (open && !mine && listed) {
    const selfNote = selfBlocked
      ? `<p class="banner bad" id="self-note">You pushed this change, and this stage does not allow approving your own push. Another approver must approve it; you can still reject it.</p>`
      : '';
    form = `<section class="card" aria-labelledby="decide">
<h2 id="decide">Your decision</h2>
${selfNote}
<form method="post" action="${escapeHtml(ctx.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(ctx.csrf)}">
<label for="comment">Comment <span class="small">(optional; shown to the other approvers and kept with the run)</span></label>
<textarea id="comment" name="comment" maxlength="2000"></textarea>
${
  denied && owner && !selfBlocked
    ? `<input type="hidden" name="override" value="yes">
<label for="reason">Reason for the override <span class="small">(required; recorded with your name)</span></label>
<input type="text" id="reason" name="reason" maxlength="2000" required>
`
    : ''
}<div class="actions">
${
  denied
    ? owner && !selfBlocked
      ? '<button type="submit" class="override" name="decision" value="approve">Override the deny and approve</button>'
      : ''
    : `<button type="submit" class="approve" name="decision" value="approve"${selfBlocked ? ' disabled aria-describedby="self-note"' : ''}>Approve</button>`
}
<button type="submit" class="reject" name="decision" value="reject" formnovalidate>Reject</button>
</div>
</form>
${denied && !owner ? '<p class="small" id="deny-note">A plan policy denied these plans: only a policy owner can override it. You can reject.</p>' : ''}
<p class="small">Deciding as <strong>${escapeHtml(ctx.approver)}</strong>. Each approver decides once.</p>
</section>`;
  }

  const body = `<h1>Apply to ${escapeHtml(approval.stage)}?</h1>
<p class="sub">${escapeHtml(approval.push.repository)} · ${escapeHtml(approval.push.branch)} · ${accounts} account${accounts === 1 ? '' : 's'}${destroys > 0 ? ` · <span class="danger">${destroys} to destroy</span>` : ''}</p>
${banner}
${policySection(approval)}
${askedAgain}
<section class="card" aria-label="Push">
<dl>
<dt>Repository</dt><dd>${escapeHtml(approval.push.repository)}</dd>
<dt>Branch</dt><dd>${escapeHtml(approval.push.branch)}</dd>
<dt>Commit</dt><dd>${commitText}</dd>
<dt>Message</dt><dd class="msg">${escapeHtml(approval.push.message || '(none)')}</dd>
<dt>Pushed by</dt><dd>${escapeHtml(approval.pusher || '(unknown)')}</dd>
<dt>Stage</dt><dd>${escapeHtml(approval.stage)}</dd>
<dt>Approved by</dt><dd>${approvedBy}</dd>
<dt>Still needed</dt><dd>${remaining} of ${approval.requiredApprovals} approval${approval.requiredApprovals === 1 ? '' : 's'}</dd>
<dt>Expires</dt><dd>${utc(approval.deadline)} (${relative(approval.deadline - ctx.nowEpochSeconds)})</dd>
</dl>
</section>
${planTables(approval)}
${omitted}
${form}
<p class="small">Opening this page changes nothing. Only the buttons above record a decision.</p>`;
  return layout(`Approve ${approval.stage}`, body);
}

/**
 * A short answer page (after a decision, or for a refusal): `ok` for a decision that goes on,
 * `stopped` for one recorded that stops the run (a rejection), `bad` for a refusal.
 */
export function renderMessagePage(title: string, message: string, kind: 'ok' | 'stopped' | 'bad' = 'bad'): string {
  return layout(title, `<h1>${escapeHtml(title)}</h1>\n<p class="banner ${kind}" role="${kind === 'bad' ? 'alert' : 'status'}">${escapeHtml(message)}</p>`);
}
