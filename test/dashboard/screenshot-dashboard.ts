/**
 * Renders the dashboard in headless Chromium and saves screenshots for the docs:
 *   npx tsx test/dashboard/screenshot-dashboard.ts [out dir]   (default docs/)
 * writes dashboard-run.png (a 300-account run, its failed account open) and dashboard-runs.png.
 * The same setup as the browser test: a local run table, the dashboard over `tfstep ui --local`'s backend.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { seedDashboardRun } from '../../bench/dashboard-run';
import { serveDashboard, sourceFromBackend } from '../../lib/dashboard/server';
import { openLocalStore } from '../../lib/local/engine/store';
import { openBackend } from '../../lib/operator/backend';
import { RunStore } from '../../lib/store/run-store';
import { launchChromium } from '../approval/browser';
import { seedRuns } from '../operator/seed';

async function screenshots(outDir: string): Promise<void> {
  // In a folder of its own with the default state directory and config file, so the commands the
  // pages print read as a user's would, without this machine's paths.
  const home = mkdtempSync(join(tmpdir(), 'tfstep-dashboard-shots-'));
  copyFileSync(join(__dirname, '..', '..', 'examples', 'tfstep.yaml'), join(home, 'tfstep.yaml'));
  process.chdir(home);
  const dir = join(home, '.tfstep');
  const local = await openLocalStore(dir);
  const store = new RunStore(local.docClient, local.tableName);
  await seedRuns(store);
  const run = await seedDashboardRun(store, { execution: 'tfstep-4f1c2e9-20261130T090000Z', accounts: 300 });
  const backend = await openBackend({ local: true });
  const served = await serveDashboard(sourceFromBackend(backend, 'local state .tfstep'), { port: 0, pollMs: 1000 });
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    await page.goto(`${served.url}/run/${run.execution}/account/${run.failed}`);
    await page.waitForSelector('body[data-live="1"]');
    // The grid's blocks are laid out only when on screen (content-visibility), so the window is made
    // as tall as the page, as a reader scrolling down would see each block.
    const height = await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollHeight: number } } }).document.documentElement.scrollHeight);
    await page.setViewportSize({ width: 1100, height });
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(outDir, 'dashboard-run.png'), fullPage: true });
    await page.setViewportSize({ width: 1100, height: 900 });
    await page.goto(`${served.url}/`);
    await page.waitForSelector('body[data-live="1"]');
    await page.screenshot({ path: join(outDir, 'dashboard-runs.png') });
    console.log(`wrote ${join(outDir, 'dashboard-run.png')} and ${join(outDir, 'dashboard-runs.png')}`);
  } finally {
    await browser.close();
    await served.close();
    await backend.close();
    await local.close();
    rmSync(home, { recursive: true, force: true });
  }
}

screenshots(resolve(process.argv[2] ?? join(__dirname, '..', '..', 'docs'))).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
