/**
 * The dashboard row: a run of many accounts (10,000 by default) written into a local run table,
 * the dashboard served over it as `tfstep ui --local` serves it, and its page opened in headless
 * Chromium. It measures the time to a rendered page with the run already read (from the request
 * until the grid is laid out and the script ran: making the HTML, sending, parsing, laying it out,
 * the live feed's first snapshot under way) and, apart, the time to read the run from the local
 * table, which is dynalite here and DynamoDB in AWS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { serveDashboard, sourceFromBackend } from '../lib/dashboard/server';
import { openLocalStore } from '../lib/local/engine/store';
import { openBackend } from '../lib/operator/backend';
import { RunStore } from '../lib/store/run-store';
import { launchChromium } from '../test/approval/browser';
import { seedDashboardRun } from './dashboard-run';

/** What the dashboard row reports. */
export interface DashboardResult {
  accounts: number;
  /** Median milliseconds from the request of the run page to its rendered grid, the run already read. */
  renderMs: number;
  /** Each measured render, in order. */
  renderRunsMs: number[];
  /** Median milliseconds to read the run from the local run table (dynalite), not part of renderMs. */
  readMs: number;
  htmlBytes: number;
  /** The goal for renderMs. */
  goalMs: number;
  /**
   * The same page against one flat grid (no blocks), in the same run: each served without CSP
   * from a plain loopback server, loaded in turn; median milliseconds of each and their ratio.
   */
  blocks?: { blocksMs: number; flatMs: number; ratio: number };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Seeds the run, serves it and opens it `tries` times (after one warm-up). */
export async function measureDashboard(accounts: number, tries = 5, log: (line: string) => void = () => undefined): Promise<DashboardResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tfstep-bench-dashboard-'));
  const local = await openLocalStore(dir);
  try {
    const t0 = performance.now();
    await seedDashboardRun(new RunStore(local.docClient, local.tableName), { execution: 'bench-dashboard', accounts });
    log(`  ${accounts} accounts written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const backend = await openBackend({ local: true, stateDir: dir, config: join(__dirname, '..', 'examples', 'tfstep.yaml') });
    const reads: number[] = [];
    let detail = await backend.runs.showRun('bench-dashboard');
    for (let i = 0; i < tries; i++) {
      const s = performance.now();
      detail = await backend.runs.showRun('bench-dashboard');
      reads.push(performance.now() - s);
    }
    // The run as read: the pages' own work is measured, not dynalite's.
    const served = await serveDashboard({ ...sourceFromBackend(backend, 'bench'), showRun: () => Promise.resolve(detail) }, { port: 0, pollMs: 60_000 });
    const browser = await launchChromium();
    try {
      const renders: number[] = [];
      let htmlBytes = 0;
      for (let i = 0; i <= tries; i++) {
        const page = await browser.context.newPage();
        page.setDefaultTimeout(120_000);
        const response = await page.goto(`${served.url}/run/bench-dashboard`);
        htmlBytes = (await response?.body())?.length ?? 0;
        await page.waitForSelector('body[data-ready]');
        const cells = await page.locator('.grid .c').count();
        if (cells !== accounts) throw new Error(`the page shows ${cells} cells for ${accounts} accounts`);
        // performance.now() in the page counts from the start of the navigation.
        const ms = Number(await page.locator('body').getAttribute('data-ready'));
        if (i > 0) renders.push(ms);
        await page.close();
      }
      const blocks = await blocksAgainstFlat(browser, await (await fetch(`${served.url}/run/bench-dashboard`)).text(), tries, accounts);
      return { accounts, renderMs: median(renders), renderRunsMs: renders, readMs: Math.round(median(reads)), htmlBytes, goalMs: 1000, blocks };
    } finally {
      await browser.close();
      await served.close();
      await backend.close();
    }
  } finally {
    await local.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The page as it would be with one flat grid: the blocks' wrappers gone, the grid a flex box again. */
export function flatGrid(html: string): string {
  const flat = html.replace(/<\/a><\/div>(?=<div class="blk">|<\/div>)/g, '</a>').replace(/<div class="blk">/g, '');
  return flat.replace(/\.grid\{margin:[^}]*\}\.blk\{[^}]*\}/, '.grid{display:flex;flex-wrap:wrap;gap:2px;margin:.25rem 0 .5rem}');
}

/** Loads the page with blocks and the flat one in turn, `tries` times each after a warm-up. */
async function blocksAgainstFlat(browser: Awaited<ReturnType<typeof launchChromium>>, html: string, tries: number, accounts: number): Promise<{ blocksMs: number; flatMs: number; ratio: number }> {
  const pages: Record<string, string> = { blocks: html, flat: flatGrid(html) };
  if (pages.flat === html || pages.flat!.includes('class="blk"')) throw new Error('the flat page still has blocks: the dashboard\'s grid markup changed, and flatGrid with it must');
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(pages[(req.url ?? '/').slice(1)] ?? '');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const times: Record<string, number[]> = { blocks: [], flat: [] };
  try {
    for (let i = 0; i <= tries; i++) {
      for (const name of Object.keys(pages)) {
        const page = await browser.context.newPage();
        page.setDefaultTimeout(120_000);
        await page.goto(`${url}/${name}`);
        await page.waitForSelector('body[data-ready]');
        const cells = await page.locator('.grid .c').count();
        if (cells !== accounts) throw new Error(`the ${name} page shows ${cells} cells for ${accounts} accounts`);
        if (i > 0) times[name]!.push(Number(await page.locator('body').getAttribute('data-ready')));
        await page.close();
      }
    }
  } finally {
    server.close();
  }
  const blocksMs = median(times.blocks!);
  const flatMs = median(times.flat!);
  return { blocksMs, flatMs, ratio: Math.round((blocksMs / flatMs) * 100) / 100 };
}
