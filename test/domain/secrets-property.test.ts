/**
 * Property: no string a plan marks sensitive ever appears in what tfstep shows. Each case takes a
 * real `terraform show -json` plan, puts generated secrets where Terraform marked values
 * sensitive, and drives the real path of a plan to people: the runner's summary, re-plan
 * comparison and masked error, the approval page, the approval email, the run notification,
 * the run JSON of `tfstep show --json` and the audit record.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { decisionAuditRecord } from '../../lib/approval/audit';
import { renderApprovalPage } from '../../lib/approval/page';
import { noticeText } from '../../lib/approval/request';
import { ApprovalViewSchema, type ModuleSummary } from '../../lib/approval/types';
import { comparePlans } from '../../lib/domain/plan-compare';
import { summarizePlan } from '../../lib/domain/plan-summary';
import { sensitiveValues } from '../../lib/domain/redact';
import { formatNotification } from '../../lib/notify/format';
import { buildStages } from '../../lib/operator/run-records';
import { RunDetailSchema } from '../../lib/operator/views';
import { Logger } from '../../lib/runner/logger';

const FIXTURE = readFileSync(path.join(__dirname, '..', 'fixtures', 'terraform-show-json', 'sensitive-values.json'), 'utf8');
/** The values the fixture's plan marks sensitive (a sensitive variable, sensitive() input, a sensitive output). */
const DB_PASSWORD = 'Sup3rS3cretDbPassw0rd!';
const KEY_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';
/** Values no provider marked, under attribute names that say secret. */
const UNMARKED = ['tok_live_8f3b2c1d9e7a6b5c4d3e2f1a', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'];

/** The plan with its sensitive values replaced (characters HTML and JSON leave as they are, so a leak cannot hide behind escaping). */
function planWith(password: string, keyBody: string): unknown {
  return JSON.parse(FIXTURE.split(DB_PASSWORD).join(password).split(KEY_BODY).join(keyBody)) as unknown;
}

const secret = fc.stringMatching(/^[A-Za-z0-9!#%*+.:;=?@^_~-]{12,48}$/);

function everythingShown(approvedDoc: unknown, newDoc: unknown, errorText: string): string[] {
  // The runner: summaries and the re-plan comparison, and a tool error masked by its logger.
  const summary = summarizePlan(newDoc);
  const approvedSummary = summarizePlan(approvedDoc);
  const { differences } = comparePlans(approvedDoc, newDoc);
  const logger = new Logger({ write: () => true }, { write: () => true });
  for (const v of sensitiveValues(newDoc)) logger.addSecret(v);
  for (const v of sensitiveValues(approvedDoc)) logger.addSecret(v);
  const error = logger.mask(errorText);
  logger.info(errorText);

  const module: ModuleSummary = {
    path: 'prod/eu-west-1/app',
    planSha256: 'a'.repeat(64),
    plan: summary,
    previous: { reason: 'changed', planSha256: 'b'.repeat(64), plan: approvedSummary, differences },
  };
  const approval = ApprovalViewSchema.parse({
    approvalId: 'appr-1',
    executionId: 'arn:aws:states:us-east-1:999999999999:execution:tfstep-pipeline:run-1',
    executionName: 'run-1',
    stage: 'prod',
    status: 'PENDING',
    requiredApprovals: 1,
    approvers: ['alice@example.com'],
    allowSelfApproval: false,
    pusher: 'pat',
    push: { repository: 'acme/live', commit: 'c'.repeat(40), branch: 'main', message: 'rotate the database' },
    createdAt: '2026-12-01T10:00:00.000Z',
    deadline: 1_900_000_000,
    items: { bucket: 'tfstep-artifacts', key: 'run-1/_stages/2/apply.json', count: 1, sha256: 'd'.repeat(64) },
    summaries: [{ account: 'prod', accountId: '333333333333', region: 'eu-west-1', modules: [module] }],
    omittedAccounts: 0,
    totals: { accounts: 1, modules: 1, add: summary.add, change: summary.change, destroy: summary.destroy, unreadable: 0 },
    decisions: {},
  });
  const page = renderApprovalPage(approval, { approver: 'alice@example.com', action: '/approvals/appr-1?approver=alice', csrf: 'x', nowEpochSeconds: 1_800_000_000 });
  const email = noticeText(approval, 'https://approve.example.com/approvals/appr-1');
  const notification = formatNotification('failed', {
    execution: 'run-1',
    stage: 'prod',
    reason: `prod/eu-west-1/app failed: ${error}`,
    failed: [{ account: 'prod', module: module.path, error }],
    plans: [{ account: 'prod', module: module.path, ...summary }],
  });
  const stages = buildStages(
    {
      execution: 'run-1',
      modules: [
        { stage: 'prod', account: 'prod', module: module.path, phase: 'apply', status: 'awaiting-approval', plan: summary, replan: { planSha256: 'a'.repeat(64), approvedSha256: 'b'.repeat(64), plan: summary, approvedPlan: approvedSummary, differences }, error },
      ],
      approvals: [],
    },
    ['prod'],
    () => 'prod',
  );
  const runJson = JSON.stringify(
    RunDetailSchema.parse({
      execution: 'run-1', executionArn: null, repository: 'acme/live', branch: 'main', commit: 'c'.repeat(40), status: 'FAILED', stage: 'prod',
      startedAt: null, stoppedAt: null, durationSeconds: null, reason: error, stages, links: { console: null }, hints: [],
    }),
  );
  const audit = JSON.stringify(decisionAuditRecord(approval, { approver: 'alice@example.com', decision: 'approve', comment: '', at: '2026-12-01T10:05:00.000Z', via: 'link' }));
  return [page, email, notification.subject, notification.text, runJson, audit, logger.lines().join('\n')];
}

describe('secrets never shown', () => {
  it('no string marked sensitive in a plan appears in any page, email, notification, run JSON, audit record or log', () => {
    fc.assert(
      fc.property(secret, secret, secret, (newPassword, oldPassword, keyBody) => {
        // GIVEN an approved plan and a new plan that changes the sensitive password
        const approvedDoc = planWith(oldPassword, keyBody);
        const newDoc = planWith(newPassword, keyBody);
        // WHEN everything a person sees is rendered, with a tool error that echoes the secrets
        const shown = everythingShown(approvedDoc, newDoc, `Error: cannot set password ${newPassword} (was ${oldPassword}), key ${keyBody}`);
        // THEN none of them, nor a value under a secret name, appears anywhere
        for (const text of shown) {
          for (const s of [newPassword, oldPassword, keyBody, ...UNMARKED]) expect(text).not.toContain(s);
        }
      }),
      { numRuns: 60 },
    );
  });

  it('the renderers do show what is not secret (the property is not vacuous)', () => {
    // WHEN
    const shown = everythingShown(planWith('x'.repeat(20), 'y'.repeat(20)), planWith('z'.repeat(20), 'y'.repeat(20)), 'Error: boom');
    // THEN the page and the run JSON name the module and the changed resource
    expect(shown[0]).toContain('prod/eu-west-1/app');
    expect(shown[0]).toContain('terraform_data.db');
    expect(shown[4]).toContain('terraform_data.db');
    expect(shown[3]).toContain('Error: boom');
  });
});
