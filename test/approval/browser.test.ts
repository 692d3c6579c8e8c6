import { statSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { launchChromium, requireChromium, serveApprovals } from './browser';
import { clearTable, harness, requestApproval, scanTable, startDynalite, type Dynalite } from './helpers';

const sfnMock = mockClient(SFNClient);

/** The browser's getComputedStyle, typed here because the project's TypeScript lib has no DOM. */
type StyleWindow = { getComputedStyle: (e: unknown) => { backgroundColor: string; color: string } };
let db: Dynalite;
let shots: string;

beforeAll(async () => {
  db = await startDynalite();
  shots = mkdtempSync(join(tmpdir(), 'tfstep-approval-shots-'));
});
afterAll(async () => {
  await db.close();
  rmSync(shots, { recursive: true, force: true });
});
beforeEach(async () => {
  await clearTable(db.doc);
  sfnMock.reset();
  sfnMock.on(SendTaskSuccessCommand).resolves({});
});

describe('the approval page in headless Chromium', () => {
  test('renders under its strict CSP, and Approve posts the form and completes the step', async () => {
    // GIVEN Chromium (required, never skipped), a pending approval and the pages on a real server
    requireChromium();
    const h = harness(db);
    const served = await serveApprovals(h.httpDeps);
    const browser = await launchChromium();
    try {
      const { links } = await requestApproval(
        { ...h, requestDeps: { ...h.requestDeps, baseUrl: served.baseUrl } },
        (r) => void ((r.stage as { approval: { minApprovals: number } }).approval.minApprovals = 1),
      );
      const link = [...links.values()][0]!;
      expect(link.origin).toBe(served.baseUrl);
      const page = await browser.context.newPage();
      const violations: string[] = [];
      page.on('console', (msg) => {
        if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
      });
      const requests: string[] = [];
      page.on('request', (req) => requests.push(req.url()));

      // WHEN alice opens her link
      const before = await scanTable(db.doc);
      const response = await page.goto(link.toString());
      const shot = join(shots, 'approval-page.png');
      await page.screenshot({ path: shot, fullPage: true });

      // THEN the page renders with its styles allowed by the CSP, loads nothing else, and changed nothing
      expect(response?.status()).toBe(200);
      expect(statSync(shot).size).toBeGreaterThan(10_000);
      expect(violations).toEqual([]);
      expect(requests).toEqual([link.toString()]);
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Apply to prod?');
      const approve = page.getByRole('button', { name: 'Approve' });
      expect(await approve.evaluate((el) => (globalThis as unknown as StyleWindow).getComputedStyle(el).backgroundColor)).toBe('rgb(26, 127, 55)');
      expect(await page.locator('.addr').first().evaluate((el) => (globalThis as unknown as StyleWindow).getComputedStyle(el).color)).toBe('rgb(179, 38, 30)');
      expect(await scanTable(db.doc)).toEqual(before);

      // WHEN she writes a comment and clicks Approve
      await page.getByLabel(/Comment/).fill('looks good');
      await Promise.all([page.waitForURL(link.toString()), approve.click()]);

      // THEN the POST succeeded and Step Functions got SendTaskSuccess with her comment
      expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Approved');
      const calls = sfnMock.commandCalls(SendTaskSuccessCommand);
      expect(calls).toHaveLength(1);
      const output = JSON.parse(calls[0]!.args[0].input.output!);
      expect(output.approvers).toEqual(['alice@example.com']);
      expect(output.comments).toEqual([{ approver: 'alice@example.com', comment: 'looks good' }]);
    } finally {
      await browser.close();
      await served.close();
    }
  });
});
