import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { createApprovalServer } from '../../lib/approval/server';
import type { ApprovalHttpDeps } from '../../lib/approval/http';

/** Where Debian (and CI) install Chromium. */
export const CHROMIUM = '/usr/bin/chromium';

/** Fails, loudly, when Chromium is missing: the browser test must never skip silently. */
export function requireChromium(): void {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}; install it with \`apt-get update && apt-get install -y chromium\` (CI installs it). This test does not skip.`);
  }
}

/** A headless Chromium with a fresh profile directory, removed on close. */
export async function launchChromium(): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  requireChromium();
  const profile = mkdtempSync(join(tmpdir(), 'tfstep-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1100, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * The approval pages on a real node:http server on 127.0.0.1. The form's Origin is checked
 * against the Host header, so the deps need no base URL.
 */
export async function serveApprovals(deps: ApprovalHttpDeps): Promise<{ baseUrl: string; server: Server; close: () => Promise<void> }> {
  const server = createApprovalServer(deps);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
