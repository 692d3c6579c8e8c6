import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seedDashboardRun, type SeededRun } from '../../bench/dashboard-run';
import { serveDashboard, sourceFromBackend, type DashboardServer } from '../../lib/dashboard/server';
import { openLocalStore, type LocalStore } from '../../lib/local/engine/store';
import { openBackend, type Backend } from '../../lib/operator/backend';
import { RunStore } from '../../lib/store/run-store';
import { launchChromium, requireChromium } from '../approval/browser';

const ACCOUNTS = 200;
let dir: string;
let local: LocalStore;
let store: RunStore;
let backend: Backend;
let served: DashboardServer;
let seeded: SeededRun;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tfstep-dashboard-'));
  local = await openLocalStore(dir);
  store = new RunStore(local.docClient, local.tableName);
  seeded = await seedDashboardRun(store, { execution: 'run-browser', accounts: ACCOUNTS });
  // The same backend `tfstep ui --local` opens, reading the state directory this process serves.
  backend = await openBackend({ local: true, stateDir: dir, config: join(__dirname, '..', '..', 'examples', 'tfstep.yaml') });
  served = await serveDashboard(sourceFromBackend(backend, `local state ${dir}`, ` --state-dir ${dir}`), { port: 0, pollMs: 200 });
});

afterAll(async () => {
  await served?.close();
  await backend?.close();
  await local?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the dashboard in headless Chromium', () => {
  test('shows the grid under its strict CSP, filters it, opens the failed account by keyboard, and follows a live update', async () => {
    // GIVEN Chromium (required, never skipped) and a 200-account local run with one failed account
    requireChromium();
    const browser = await launchChromium();
    try {
      const page = await browser.context.newPage();
      const violations: string[] = [];
      page.on('console', (msg) => {
        if (/Content Security Policy|Refused/i.test(msg.text())) violations.push(msg.text());
      });
      const foreign: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith(served.url)) foreign.push(req.url());
      });

      // WHEN the run's page opens and its live feed connects
      const response = await page.goto(`${served.url}/run/${seeded.execution}`);
      await page.waitForSelector('body[data-live="1"]');

      // THEN every account has one cell, each with a mark and words besides its colour
      expect(response?.status()).toBe(200);
      expect(await page.locator('.grid .c').count()).toBe(ACCOUNTS);
      const failedCell = page.getByRole('link', { name: `${seeded.failed}: failed` });
      expect(await failedCell.textContent()).toBe('✗');
      expect(await failedCell.getAttribute('class')).toContain('t-bad');
      expect(await page.getByRole('heading', { name: /^Stage prod/ }).count()).toBe(1);
      expect(await page.getByRole('heading', { name: /^Wave 2/ }).count()).toBeGreaterThan(0);
      expect(await page.locator('.appr').textContent()).toContain('alice@example.com approved');
      expect(violations).toEqual([]);
      expect(foreign).toEqual([]);
      const shot = join(dir, 'run.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(10_000);

      // WHEN the keyboard enters the first grid and moves along it
      const firstGrid = page.locator('.grid').first();
      const gridCells = firstGrid.locator('.c');
      const focusedLabel = () => page.evaluate(() => (globalThis as unknown as { document: { activeElement: { getAttribute(k: string): string | null } | null } }).document.activeElement?.getAttribute('aria-label') ?? null);
      await gridCells.nth(0).focus();
      await page.keyboard.press('ArrowRight');
      // THEN the arrow moved to the next square, which is now the grid's one Tab stop
      expect(await focusedLabel()).toBe(await gridCells.nth(1).getAttribute('aria-label'));
      expect(await firstGrid.locator('.c[tabindex="0"]').count()).toBe(1);
      await page.keyboard.press('End');
      expect(await focusedLabel()).toBe(await gridCells.last().getAttribute('aria-label'));
      await page.keyboard.press('Home');
      expect(await focusedLabel()).toBe(await gridCells.nth(0).getAttribute('aria-label'));
      // AND ArrowDown goes to the square below, in the same column
      const lastGrid = page.locator('.grid').last().locator('.c');
      await lastGrid.nth(0).focus();
      await page.keyboard.press('ArrowDown');
      const below = page.locator('.grid .c:focus');
      const [from, to] = [await lastGrid.nth(0).boundingBox(), await below.boundingBox()];
      expect(to!.y).toBeGreaterThan(from!.y);
      expect(Math.abs(to!.x - from!.x)).toBeLessThan(2);
      await gridCells.nth(0).focus();
      // AND Tab leaves the grid rather than walking through every square
      await page.keyboard.press('Tab');
      const leftGrid = await page.evaluate(() => {
        const active = (globalThis as unknown as { document: { activeElement: { closest(s: string): unknown } | null } }).document.activeElement;
        return active ? active.closest('.grid') === (globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('.grid') : false;
      });
      expect(leftGrid).toBe(false);

      // WHEN the grid is filtered to failed accounts
      await page.getByLabel('Status', { exact: true }).selectOption('bad');

      // THEN only the failed account shows, and the address keeps the filter
      expect(await page.locator('.grid .c:not([hidden])').count()).toBe(1);
      expect(await page.locator('#shown').textContent()).toBe(`showing 1 of ${ACCOUNTS} accounts`);
      expect(page.url()).toContain('tone=bad');

      // WHEN the failed account is opened from the keyboard
      await failedCell.focus();
      await page.keyboard.press('Enter');
      await page.waitForSelector('#detail:not([hidden]) .fail');

      // THEN the panel says why it failed, with its module's outcome and the command for the whole log
      const detail = page.locator('#detail');
      expect(await detail.locator('.fail').textContent()).toContain('NatGatewayLimitExceeded');
      expect(await detail.getByRole('heading', { level: 2 }).textContent()).toContain(`Account ${seeded.failed}`);
      expect(await detail.textContent()).toContain(`tfstep logs run-browser --account ${seeded.failed} --local`);
      expect(page.url()).toContain(`/account/${seeded.failed}`);

      // WHEN a running account finishes in the run table
      await page.getByLabel('Status', { exact: true }).selectOption('');
      const runningCell = page.locator(`.c[href$="/account/${seeded.running}"]`);
      expect(await runningCell.getAttribute('aria-label')).toBe(`${seeded.running}: running`);
      // A reload would drop this mark: the update must come without one.
      await page.evaluate(() => (globalThis as unknown as { document: { body: { setAttribute(k: string, v: string): void } } }).document.body.setAttribute('data-mark', 'kept'));
      await store.putModuleResult({
        execution: seeded.execution,
        account: seeded.running,
        module: 'core/network',
        phase: 'apply',
        status: 'applied',
        commit: '4f1c2e9ab7d35c08e6f1a2b3c4d5e6f708192a3b',
        startedAt: '2026-11-30T09:11:40.000Z',
        finishedAt: '2026-11-30T09:12:40.000Z',
      });

      // THEN its cell turns applied without a reload
      await page.waitForSelector(`.c[aria-label="${seeded.running}: applied"]`, { timeout: 10_000 });
      expect(await runningCell.textContent()).toBe('✓');
      expect(await page.locator('body').getAttribute('data-mark')).toBe('kept');
    } finally {
      await browser.close();
    }
  });
});
