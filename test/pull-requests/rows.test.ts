import { parseConfig } from '../../lib/config/loader';
import type { PullRequestEvent } from '../../lib/domain/pull-request-event';
import { planLogKeysOf, planRowsOf } from '../../lib/pull-requests/rows';
import { pullRequestTargets } from '../../lib/pull-requests/targets';
import { targetKey } from '../../lib/planning/targets';

const HEAD = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821';
const APPLIED = '6113728f27ae82c7b1a177c8d03f9e96e0adf246';

const config = parseConfig({
  version: 1,
  central: { account: '999999999999', region: 'us-east-1' },
  repositories: [{ provider: 'github', fullName: 'acme/live', cloneUrls: ['https://github.com/acme/live.git'] }],
  stageOrder: ['dev', 'prod'],
  stages: { dev: {}, prod: {} },
  accounts: [
    { name: 'dev', id: '111111111111', region: 'us-east-1', stage: 'dev', pullRequestPlans: true },
    { name: 'prod', id: '222222222222', region: 'us-east-1', stage: 'prod', pullRequestPlans: true },
    { name: 'legacy', id: '333333333333', region: 'us-east-1', stage: 'prod' },
  ],
  pullRequests: {},
});

const pr: PullRequestEvent = {
  provider: 'github',
  deliveryId: 'd',
  action: 'plan',
  repository: { fullName: 'acme/live', cloneUrls: ['https://github.com/acme/live.git'] },
  number: 4,
  headBranch: 'raise-count',
  headSha: HEAD,
  baseBranch: 'main',
  author: 'octocat',
  title: 't',
  receivedAt: '2026-03-01T12:00:00.000Z',
};

describe('pull request targets', () => {
  it('plans the modules changed since each target was applied, on the source branch, and reports accounts that do not allow it', () => {
    // GIVEN modules in three accounts, all applied at one commit, of which the head changes dev/app, prod/db and legacy/app
    const modules = ['dev/us-east-1/app', 'dev/us-east-1/network', 'prod/us-east-1/db', 'legacy/us-east-1/app'];
    const lastApplied = new Map(modules.map((m) => [targetKey(m.split('/')[0]!, m), { commit: APPLIED, sequence: '0' }]));
    const changes = new Map([[APPLIED, ['dev/us-east-1/app/main.tf', 'prod/us-east-1/db/main.tf', 'legacy/us-east-1/app/main.tf']]]);

    // WHEN the targets are planned
    const out = pullRequestTargets({ config, pr, modules, lastApplied, changes });

    // THEN dev and prod plan at the head on the pull request's branch; legacy is only reported
    expect(out.targets).toEqual([
      { stage: 'dev', account: 'dev', module: 'dev/us-east-1/app', commit: HEAD, ref: 'refs/heads/raise-count' },
      { stage: 'prod', account: 'prod', module: 'prod/us-east-1/db', commit: HEAD, ref: 'refs/heads/raise-count' },
    ]);
    expect(out.notAllowed).toEqual([{ stage: 'prod', account: 'legacy', module: 'legacy/us-east-1/app' }]);
  });
});

describe('summary rows of plan-only results', () => {
  it('counts a replacement as one to add and one to destroy, and keeps errors and refusals as rows', () => {
    // GIVEN a module with a create, an update, a delete and a replacement, a failed one and a clean one
    const rows = planRowsOf(
      [
        {
          account: 'prod',
          module: 'prod/us-east-1/db',
          status: 'changes',
          changes: [
            { address: 'aws_db_instance.old', action: 'delete' },
            { address: 'aws_instance.web', action: 'replace' },
            { address: 'aws_s3_bucket.logs', action: 'update' },
            { address: 'aws_sqs_queue.q', action: 'create' },
          ],
          moreChanges: 3,
        },
        { account: 'dev', module: 'dev/us-east-1/app', status: 'error', error: 'Error: Invalid reference\n  on main.tf line 3' },
        { account: 'dev', module: 'dev/us-east-1/network', status: 'clean' },
      ],
      [{ stage: 'prod', account: 'legacy', module: 'legacy/us-east-1/app' }],
      (a) => (a === 'dev' ? 'dev' : 'prod'),
      (a, m) => `https://logs.example.com/${a}/${m}`,
    );

    // THEN the counts follow Terraform's, the error keeps its first line, and the refused account is a row
    expect(rows[0]).toEqual({
      stage: 'prod',
      account: 'prod',
      module: 'prod/us-east-1/db',
      logUrl: 'https://logs.example.com/prod/prod/us-east-1/db',
      status: 'changes',
      add: 2,
      change: 1,
      destroy: 2,
      destroyed: ['aws_db_instance.old'],
      replaced: ['aws_instance.web'],
      reason: 'and 3 more changes, in the log',
    });
    expect(rows[1]).toMatchObject({ status: 'failed', reason: 'Error: Invalid reference' });
    expect(rows[2]).toMatchObject({ status: 'clean' });
    expect(rows[3]).toMatchObject({ account: 'legacy', status: 'not-allowed' });
  });
});

describe('planLogKeysOf', () => {
  it('finds the plan log of each account\'s module in a run\'s item list, one log per task', () => {
    // GIVEN two tasks of dev (two commits) and one of prod, and items of other shapes
    const items = [
      { task: 'pr-x-0', account: { name: 'dev', modules: ['dev/app', 'dev/db'] } },
      { task: 'pr-x-1', account: { name: 'dev', modules: ['dev/dns'] } },
      { task: 'pr-x-2', account: { name: 'prod', modules: ['prod/app'] } },
      { account: { name: 'stage', modules: ['stage/app'] } },
      null,
    ];
    const keyOf = planLogKeysOf(items);
    // THEN each module has its task's log, and what no task planned has none
    expect(keyOf('dev', 'dev/db')).toBe('accounts/dev/pr-x-0/plan.log');
    expect(keyOf('dev', 'dev/dns')).toBe('accounts/dev/pr-x-1/plan.log');
    expect(keyOf('prod', 'prod/app')).toBe('accounts/prod/pr-x-2/plan.log');
    expect(keyOf('stage', 'stage/app')).toBeUndefined();
    expect(keyOf('prod', 'dev/app')).toBeUndefined();
    // AND a list that is not one links nothing
    expect(planLogKeysOf({ task: 'pr-x-0' })('dev', 'dev/app')).toBeUndefined();
  });
});
