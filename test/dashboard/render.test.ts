import { createHash } from 'node:crypto';
import { DASHBOARD_CSS, DASHBOARD_SCRIPT } from '../../lib/dashboard/assets';
import { diffLive, sseEvent } from '../../lib/dashboard/live';
import { addressCount, DASHBOARD_HEADERS, fleetOrder, renderAccountPanel, renderFleetPage, renderRunPage, renderRunsPage, riskyFirst, runLive, toneOf } from '../../lib/dashboard/render';
import { loopbackHost } from '../../lib/dashboard/server';
import { flatGrid } from '../../bench/dashboard';
import type { FleetRow } from '../../lib/operator/fleet';
import type { ModuleView, RunDetail } from '../../lib/operator/views';

const EVIL = '<script>alert(1)</script>';

function mod(path: string, plan: ModuleView['plan'], extra: Partial<ModuleView> = {}): ModuleView {
  return { path, phase: 'plan-and-apply', status: 'APPLIED', plan, planSha256: null, skippedBecause: null, mayChangeAfter: null, replan: null, error: null, durationSeconds: 3, ...extra };
}

function run(accounts: { name: string; status: string; wave?: number }[], extra: Partial<RunDetail> = {}): RunDetail {
  return {
    execution: 'run-1',
    executionArn: null,
    repository: `acme/${EVIL}`,
    branch: 'main',
    commit: 'a'.repeat(40),
    pusher: `dana ${EVIL}`,
    status: 'RUNNING',
    stage: 'prod',
    startedAt: '2026-11-30T09:00:00.000Z',
    stoppedAt: null,
    durationSeconds: 60,
    reason: null,
    stages: [
      {
        name: 'prod',
        status: 'RUNNING',
        durationSeconds: 10,
        approval: { status: 'APPROVED', approvers: ['alice@example.com'], decisions: [{ approver: 'alice@example.com', decision: 'approve', comment: EVIL, at: '2026-11-30T09:01:00.000Z' }] },
        accounts: accounts.map((a) => ({ name: a.name, status: a.status, durationSeconds: 1, modules: [mod('core/network', { add: 1, change: 0, destroy: 0 })], wave: a.wave ?? null })),
        waves: null,
      },
    ],
    links: { console: null },
    hints: [],
    ...extra,
  };
}

describe('dashboard rendering', () => {
  test('escapes every value from a push, a plan or an approval', () => {
    // GIVEN a run whose repository, pusher and approval comment carry markup
    const detail = run([{ name: 'acct-1', status: 'FAILED' }]);
    // WHEN its page and the runs page are rendered
    const html = renderRunPage(detail, { source: EVIL }) + renderRunsPage([detail], EVIL);
    // THEN the markup arrives as text, and the only script is the page's own
    expect(html).not.toContain(EVIL);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html.split('<script>').length - 1).toBe(2);
  });

  test("the CSP allows exactly the page's own style and script, by hash", () => {
    const csp = DASHBOARD_HEADERS['content-security-policy']!;
    const hash = (text: string) => createHash('sha256').update(text).digest('base64');
    expect(csp).toContain(`script-src 'sha256-${hash(DASHBOARD_SCRIPT)}'`);
    expect(csp).toContain(`style-src 'sha256-${hash(DASHBOARD_CSS)}'`);
    expect(csp).toMatch(/^default-src 'none';/);
    expect(csp).toContain("connect-src 'self'");
  });

  test('a status reads as a tone, a glyph and words', () => {
    expect(['FAILED', 'REFUSED', 'REJECTED', 'TIMED_OUT'].map(toneOf)).toEqual(['bad', 'bad', 'bad', 'bad']);
    expect(['APPLIED', 'SUCCEEDED'].map(toneOf)).toEqual(['ok', 'ok']);
    expect(['RUNNING', 'AWAITING_APPROVAL', 'AWAITING-APPROVAL', 'PLANNED', 'PENDING', 'SKIPPED'].map(toneOf)).toEqual(['run', 'wait', 'wait', 'planned', 'idle', 'skip']);
    const live = runLive(run([{ name: 'a', status: 'FAILED' }, { name: 'b', status: 'APPLIED' }]));
    expect(live.cells).toEqual({ 'c0-0': ['bad', '✗', 'failed'], 'c0-1': ['ok', '✓', 'applied'] });
  });

  test('the server-side filter hides the cells that do not match', () => {
    const html = renderRunPage(run([{ name: 'acct-1', status: 'FAILED' }, { name: 'acct-2', status: 'APPLIED' }, { name: 'other', status: 'FAILED' }]), { source: 'x', filter: { q: 'acct', tone: 'bad' } });
    const hidden = [...html.matchAll(/<a class="c [^"]*" id="(c[\d-]+)"[^>]*?( hidden)?>/g)].map((m) => [m[1], m[2] === ' hidden']);
    expect(hidden).toEqual([
      ['c0-0', false],
      ['c0-1', true],
      ['c0-2', true],
    ]);
  });

  test('modules that destroy or replace come first, counted with the addresses not listed', () => {
    const modules = [
      mod('a/plain', { add: 1, change: 0, destroy: 0 }),
      mod('b/replaces', { add: 1, change: 0, destroy: 1 }, { replaced: ['aws_instance.x'] }),
      mod('c/none', null),
      mod('d/destroys', { add: 0, change: 0, destroy: 102 }, { deleted: [...Array.from({ length: 100 }, (_, i) => `aws_s3_bucket.b${i}`), '... and 2 more'] }),
    ];
    expect(riskyFirst(modules).map((m) => m.path)).toEqual(['b/replaces', 'd/destroys', 'a/plain', 'c/none']);
    expect(addressCount(modules[3]!.deleted)).toBe(102);
    expect(addressCount(undefined)).toBe(0);
  });

  test("an account's panel says why it failed, and each module's outcome", () => {
    const detail = run([{ name: 'acct-1', status: 'FAILED' }]);
    const account = { ...detail.stages[0]!.accounts[0]!, reason: `NAT limit ${EVIL}`, modules: [mod('core/network', null, { status: 'FAILED', error: 'terraform apply exited 1' })] };
    const html = renderAccountPanel(detail, account, 'prod', { sections: [{ title: 'acct-1 apply', lines: ['Error: x', EVIL] }], notes: [], command: 'tfstep logs run-1 --account acct-1 --local' });
    expect(html).toContain('<strong>Why it failed:</strong> <span class="msg">NAT limit &lt;script&gt;');
    expect(html).toContain('terraform apply exited 1');
    expect(html).toContain('<pre class="log">Error: x\n&lt;script&gt;');
    expect(html).toContain('tfstep logs run-1 --account acct-1 --local');
  });

  test('the fleet lists accounts by stage and wave, with drift and policy columns only when present', () => {
    const row = (name: string, stage: string, wave: string | null, extra: object = {}): FleetRow =>
      ({ name, id: '111111111111', stage, wave, region: 'us-east-1', source: 'explicit', matched: '', status: 'active', applied: [], ...extra });
    const rows = [row('p2', 'prod', '2/2'), row('p1', 'prod', '1/2'), row('d', 'dev', '1/1'), row('s', 'stage', null)];
    expect(fleetOrder(rows, ['dev', 'stage', 'prod']).map((r) => r.name)).toEqual(['d', 's', 'p1', 'p2']);
    const plain = renderFleetPage({ accounts: rows }, ['dev', 'stage', 'prod'], 'x');
    expect(plain).not.toContain('>Drift<');
    const withDrift = renderFleetPage({ accounts: [row('d', 'dev', '1/1', { drift: { status: 'DRIFTED', checkedAt: '2026-11-30T00:00:00Z', resources: 3 } }), row('e', 'dev', '1/1', { policy: 'failed' })] }, ['dev'], 'x');
    expect(withDrift).toContain('>Drift<');
    expect(withDrift).toContain('>Policy<');
    expect(withDrift).toContain('drifted');
  });

  test('a live patch carries only the fragments and cells that changed', () => {
    const before = runLive(run([{ name: 'a', status: 'RUNNING' }, { name: 'b', status: 'RUNNING' }]));
    const after = runLive(run([{ name: 'a', status: 'RUNNING' }, { name: 'b', status: 'APPLIED' }]));
    const patch = diffLive(before, after)!;
    expect(patch.cells).toEqual({ 'c0-1': ['ok', '✓', 'applied'] });
    expect(Object.keys(patch.fragments)).toEqual(['stage-0']);
    expect(diffLive(after, after)).toBeUndefined();
    expect(sseEvent('patch', { a: 'x\ny' }, 3)).toBe('id: 3\nevent: patch\ndata: {"a":"x\\ny"}\n\n');
  });

  test('only loopback host names are answered', () => {
    expect(['127.0.0.1:8790', 'localhost:8790', '[::1]:8790', 'LOCALHOST'].map(loopbackHost)).toEqual([true, true, true, true]);
    expect(['evil.example:8790', '127.0.0.1.evil.example', undefined, ''].map(loopbackHost)).toEqual([false, false, false, false]);
  });

  test('puts the grid\'s squares in blocks of 100, in order, which the benchmark can flatten again', () => {
    // GIVEN a run of 250 accounts
    const html = renderRunPage(run(Array.from({ length: 250 }, (_, i) => ({ name: `acct-${i}`, status: 'APPLIED' }))), { source: 'x' });
    // THEN the squares are in three blocks of 100, 100 and 50, in the accounts' order
    const blocks = [...html.matchAll(/<div class="blk">(.*?)<\/div>/g)].map((m) => [...m[1]!.matchAll(/aria-label="(acct-\d+):/g)].map((x) => x[1]));
    expect(blocks.map((b) => b.length)).toEqual([100, 100, 50]);
    expect(blocks.flat()).toEqual(Array.from({ length: 250 }, (_, i) => `acct-${i}`));
    // AND the benchmark's flat page has the same 250 squares in one flex grid
    const flat = flatGrid(html);
    expect(flat).not.toContain('class="blk"');
    expect([...flat.matchAll(/class="c t-/g)]).toHaveLength(250);
    expect(flat).toContain('.grid{display:flex;flex-wrap:wrap;');
    expect(flat.match(/<div/g)!.length).toBe(html.match(/<div/g)!.length - 3);
    expect(flat.match(/<\/div>/g)!.length).toBe(html.match(/<\/div>/g)!.length - 3);
  });
});
