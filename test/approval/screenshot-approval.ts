/**
 * Renders the approval page in headless Chromium and saves a screenshot for the docs:
 *   npx tsx test/approval/screenshot-approval.ts [out.png]   (default docs/approval-page.png)
 * The same setup as the browser test: dynalite, the fixture request, a real HTTP server.
 */
import { join, resolve } from 'node:path';
import { RecordOnlyTaskTokenSender } from '../../lib/approval/task-token';
import { decide } from '../../lib/approval/decide';
import { launchChromium, serveApprovals } from './browser';
import { harness, requestApproval, startDynalite } from './helpers';

async function screenshot(out: string): Promise<void> {
  const db = await startDynalite();
  const h = harness(db);
  const deps = { ...h.httpDeps, tasks: new RecordOnlyTaskTokenSender() };
  const served = await serveApprovals(deps);
  const browser = await launchChromium();
  try {
    const { approvalId, links } = await requestApproval({ ...h, requestDeps: { ...h.requestDeps, baseUrl: served.baseUrl } });
    // One approval already in, so the page shows who approved and what is still needed.
    await decide({ approvalId, approver: 'alice@example.com', decision: 'approve', comment: 'NAT replacement is expected', via: 'link' }, deps);
    const page = await browser.context.newPage();
    await page.goto(links.get('bob@example.com')!.toString());
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
    await served.close();
    await db.close();
  }
}

screenshot(resolve(process.argv[2] ?? join(__dirname, '..', '..', 'docs', 'approval-page.png'))).catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
