/**
 * Artifact isolation between accounts, checked the way IAM evaluates it: every grant on the
 * artifacts bucket (the runner roles' own policies in each account stack and the bucket policy
 * in the central stack) is matched against every key a runner writes, with account, module and
 * execution names chosen to collide. In IAM resource ARNs `*` matches any characters, `/`
 * included, and `?` matches one character (IAM User Guide, "IAM JSON policy elements: Resource").
 */
import { Template } from 'aws-cdk-lib/assertions';
import type { TfstepApp } from '../../lib/app';
import { names } from '../../lib/domain/names';
import { artifactKeys } from '../../lib/domain/runner-contract';
import { buildExampleApp, removeTempDirs, render, statementsOf, writeExampleVariant, type Statement } from './support';

const REGION = 'us-east-1';
const CENTRAL = '999999999999';
const BUCKET = names.artifactsBucket(CENTRAL, REGION);
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;

/** IAM's wildcard match of a resource pattern against an ARN: `*` spans anything, `/` included. */
export function iamMatches(pattern: string, arn: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(arn);
}

/** Every key a runner of `account` reads or writes for `module` in `execution`. */
function runnerKeys(execution: string, account: string, module: string): string[] {
  return [
    artifactKeys.manifest(execution, account, 'plan'),
    artifactKeys.manifest(execution, account, 'apply'),
    artifactKeys.planFile(execution, account, module),
    artifactKeys.planJson(execution, account, module),
    artifactKeys.summary(execution, account, module),
    artifactKeys.result(execution, account, module),
    artifactKeys.log(execution, account, 'plan'),
    artifactKeys.log(execution, account, 'apply'),
  ];
}

/** The object ARNs one account may read or write, from its stack's role policies. */
function roleGrants(app: TfstepApp, account: string): string[] {
  const template = Template.fromStack(app.accounts.get(account)!);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap((p) => statementsOf(p.Properties.PolicyDocument))
    .filter((s) => s.Effect === 'Allow' && s.Action.some((a) => a.startsWith('s3:')))
    .flatMap((s) => s.Resource)
    .filter((r) => r.startsWith(`${BUCKET_ARN}/`));
}

/** The object ARNs the bucket policy grants to `accountId`. */
function bucketPolicyGrants(app: TfstepApp, accountId: string): string[] {
  const template = Template.fromStack(app.central);
  const [bucketId] = Object.keys(template.findResources('AWS::S3::Bucket', { Properties: { BucketName: BUCKET } }));
  const policy = Object.values(template.findResources('AWS::S3::BucketPolicy', { Properties: { Bucket: { Ref: bucketId } } }))[0]!;
  return statementsOf(policy.Properties.PolicyDocument)
    .filter((s: Statement) => s.Effect === 'Allow' && JSON.stringify(render(s.Principal)).includes(`:${accountId}:`))
    .flatMap((s) => s.Resource)
    .map((r) => r.replace(`<${bucketId}.Arn>`, BUCKET_ARN));
}

describe('artifact grants with colliding account and module names', () => {
  let app: TfstepApp;
  // GIVEN an account named "network" and another account ("dev") with a module named "network"
  const ACCOUNTS = { dev: '111111111111', network: '222222222222', prod: '333333333333' } as const;
  beforeAll(() => {
    const file = writeExampleVariant((doc) => {
      const accounts = doc.accounts as Record<string, unknown>[];
      accounts[1]!.name = 'network';
    });
    app = buildExampleApp({}, file);
  });
  afterAll(removeTempDirs);

  const collidingModules = (owner: string, other: string) => [
    `${owner}/${REGION}/${other}`,
    other,
    `${other}/${owner}`,
    `${other}/${REGION}/${other}`,
    `x/${other}/y`,
    `accounts/${other}/x`,
  ];
  const executions = (other: string) => ['3f1c2a9e-0b4d-4c8e-9a51-7d2e6f0a1b3c', other, 'accounts', `accounts-${other}`];

  it('has grants to check: each account stack and the bucket policy name the account prefix', () => {
    for (const [name, id] of Object.entries(ACCOUNTS)) {
      expect(roleGrants(app, name)).toEqual([`${BUCKET_ARN}/${artifactKeys.accountPrefix(name)}*`, `${BUCKET_ARN}/${artifactKeys.accountPrefix(name)}*`]);
      expect(bucketPolicyGrants(app, id)).toEqual([`${BUCKET_ARN}/${artifactKeys.accountPrefix(name)}*`]);
    }
  });

  it("lets every account reach all of its own keys and none of another account's, however names collide", () => {
    const crossings: string[] = [];
    const missing: string[] = [];
    for (const [owner] of Object.entries(ACCOUNTS)) {
      for (const [other, otherId] of Object.entries(ACCOUNTS)) {
        if (other === owner) continue;
        const otherGrants = [...roleGrants(app, other), ...bucketPolicyGrants(app, otherId)];
        const ownGrants = roleGrants(app, owner);
        for (const execution of executions(other)) {
          for (const module of collidingModules(owner, other)) {
            for (const key of runnerKeys(execution, owner, module)) {
              const arn = `${BUCKET_ARN}/${key}`;
              for (const g of otherGrants) if (iamMatches(g, arn)) crossings.push(`${other} may reach ${key} (grant ${g})`);
              if (!ownGrants.some((g) => iamMatches(g, arn))) missing.push(`${owner} cannot reach its own ${key}`);
            }
          }
        }
      }
    }
    expect(crossings).toEqual([]);
    expect(missing).toEqual([]);
  });

  it('lets no runner reach the stage item lists the central pipeline writes, even of a run named like an account', () => {
    for (const [name, id] of Object.entries(ACCOUNTS)) {
      const grants = [...roleGrants(app, name), ...bucketPolicyGrants(app, id)];
      // Execution names hold letters, digits, "_" and "-" only: never a "/".
      for (const execution of [name, 'accounts', `accounts-${name}`]) {
        for (const key of [artifactKeys.stageAccounts(execution, 0), artifactKeys.stageApplyItems(execution, 1), `${artifactKeys.stageResults(execution, 2)}/x.json`]) {
          expect({ key, reachable: grants.some((g) => iamMatches(g, `${BUCKET_ARN}/${key}`)) }).toEqual({ key, reachable: false });
        }
      }
    }
  });

  it('matches IAM wildcards across "/" (the behaviour the isolation must survive)', () => {
    expect(iamMatches('arn:aws:s3:::b/*/network/*', 'arn:aws:s3:::b/e1/dev/dev/us-east-1/network/plan.tfplan')).toBe(true);
    expect(iamMatches('arn:aws:s3:::b/accounts/network/*', 'arn:aws:s3:::b/accounts/dev/e1/network/plan.tfplan')).toBe(false);
    expect(iamMatches('arn:aws:s3:::b/accounts/net?ork/*', 'arn:aws:s3:::b/accounts/network/x')).toBe(true);
    expect(iamMatches('arn:aws:s3:::b/accounts/network/*', 'arn:aws:s3:::b/accounts/network-2/x')).toBe(false);
  });
});
