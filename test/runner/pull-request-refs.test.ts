/**
 * Pull request plans in each account: the runner's own policy must allow them, only as plan-only
 * pull-request tasks, only on branches of the allowed repositories; a fork's head (reachable only
 * from the host's `refs/pull/<n>/head`) is refused. Real git repositories, the terraform double.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseConfig } from '../../lib/config/loader';
import { EXIT, type RunnerPolicy } from '../../lib/domain/runner-contract';
import { runnerPolicyFor } from '../../lib/domain/runner-policy';
import { checkInputAgainstPolicy } from '../../lib/runner/policy';
import { baseInput, envOf, makeWorld, run, type World } from './helpers';

const pullRequestPlan = { kind: 'pull-request' as const };

describe('pull request refs in the runner policy (pure)', () => {
  const policy: RunnerPolicy = {
    account: 'dev',
    repositories: ['git@github.com:acme/live.git'],
    refs: ['refs/heads/main'],
    tool: 'terraform',
    allowedSubcommands: ['init', 'plan', 'show', 'apply'],
    phases: ['plan'],
    artifacts: 's3://bucket',
    planRecords: 'dynamodb://tfstep-plan-records-us-east-1',
  };
  const input = { repository: 'git@github.com:acme/live.git', commit: 'a'.repeat(40), ref: 'refs/heads/raise-count', account: 'dev', stage: 'dev', phase: 'plan' as const, modules: ['m'], execution: 'e' };

  it('fails when the account has not opted in, saying so', () => {
    expect(() => checkInputAgainstPolicy({ ...input, planOnly: pullRequestPlan }, policy)).toThrow(
      'refused ref "refs/heads/raise-count": this account does not plan pull requests (pullRequestPlans is off in its policy)',
    );
  });

  it('allows a branch for a pull-request plan once the account opted in, and nothing else', () => {
    const on = { ...policy, pullRequestBranches: true };
    expect(checkInputAgainstPolicy({ ...input, planOnly: pullRequestPlan }, on)).toEqual({ cloneUrl: 'git@github.com:acme/live.git' });
    // A deploy or a drift sweep of that branch stays refused.
    expect(() => checkInputAgainstPolicy(input, on)).toThrow(/refused ref "refs\/heads\/raise-count": not one of the policy's refs/);
    expect(() => checkInputAgainstPolicy({ ...input, planOnly: { kind: 'drift' } }, on)).toThrow(/not one of the policy's refs/);
  });

  it('writes pullRequestBranches only for accounts with pullRequestPlans', () => {
    const config = parseConfig({
      version: 1,
      central: { account: '999999999999', region: 'us-east-1' },
      repositories: [{ provider: 'github', fullName: 'acme/live', cloneUrls: ['https://github.com/acme/live.git'] }],
      stageOrder: ['dev'],
      stages: { dev: {} },
      accounts: [
        { name: 'dev', id: '111111111111', region: 'us-east-1', stage: 'dev', pullRequestPlans: true },
        { name: 'ops', id: '222222222222', region: 'us-east-1', stage: 'dev' },
      ],
    });
    expect(runnerPolicyFor(config, config.accounts[0]!).pullRequestBranches).toBe(true);
    expect(runnerPolicyFor(config, config.accounts[1]!).pullRequestBranches).toBeUndefined();
  });
});

describe('pull request plans against a real repository', () => {
  let world: World;
  let forkHead: string;
  beforeAll(() => {
    world = makeWorld({ pullRequestBranches: true });
    // A fork's pull request: its commit lives only under refs/pull/7/head, as GitHub keeps it.
    const git = (...args: string[]) => execFileSync('git', ['-C', world.repo, ...args], { encoding: 'utf8' }).trim();
    git('checkout', '-q', '--detach', world.main);
    writeFileSync(path.join(world.repo, 'dev/network/main.tf'), 'data "external" "x" { program = ["sh", "-c", "id"] }\n');
    git('commit', '-q', '-am', 'from a fork');
    forkHead = git('rev-parse', 'HEAD');
    git('update-ref', 'refs/pull/7/head', forkHead);
    git('checkout', '-q', 'main');
  });
  afterAll(() => world.cleanup());

  it('plans a same-repository branch at its head', async () => {
    // GIVEN a plan-only pull-request task on the feature branch's head
    const env = envOf(baseInput(world, { ref: 'refs/heads/feature', commit: world.feature, planOnly: pullRequestPlan, execution: 'pr-1' }));

    // WHEN the runner runs it
    const out = await run(world, env);

    // THEN it plans (the double ran plan) and never applies
    expect(out.stderr).toBe('');
    expect(out.code).toBe(EXIT.OK);
    expect(out.doubleCalls.some((c) => c.endsWith(' plan'))).toBe(true);
    expect(out.doubleCalls.some((c) => c.endsWith(' apply'))).toBe(false);
  });

  it('fails when a fork head is named on a branch it is not on', async () => {
    // GIVEN the fork's commit, claimed to be on the feature branch
    const env = envOf(baseInput(world, { ref: 'refs/heads/feature', commit: forkHead, planOnly: pullRequestPlan, execution: 'pr-2' }));

    // WHEN the runner runs it
    const out = await run(world, env);

    // THEN the checkout refuses it and nothing runs
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(new RegExp(`refused commit ${forkHead}: not reachable from the allowed ref refs/heads/feature`));
    expect(out.doubleCalls).toEqual([]);
  });

  it("fails when the host's pull request ref is named", async () => {
    // GIVEN the fork's commit on refs/pull/7/head
    const env = envOf(baseInput(world, { ref: 'refs/pull/7/head', commit: forkHead, planOnly: pullRequestPlan, execution: 'pr-3' }));

    // WHEN the runner runs it
    const out = await run(world, env);

    // THEN the ref itself is refused and nothing runs
    expect(out.code).toBe(EXIT.REFUSED);
    expect(out.stderr).toMatch(/TFSTEP_REF.*branch ref/);
    expect(out.doubleCalls).toEqual([]);
  });
});
