/**
 * `tfstep doctor`: checks an AWS installation from the central account and says what is wrong
 * and how to fix it. What cannot be checked from where it runs is reported as such, never as ok.
 */
import { DescribeClustersCommand, DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { SimulatePrincipalPolicyCommand, type IAMClient } from '@aws-sdk/client-iam';
import { DescribeSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DescribeStateMachineCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { ListSubscriptionsByTopicCommand, type SNSClient } from '@aws-sdk/client-sns';
import { AssumeRoleCommand, GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { z } from 'zod';
import type { AccountConfig, Config } from '../config/schema';
import { names, stateMachineArn } from '../domain/names';
import { centralStateMachineRoleArn, centralTopicArn, launcherRoleArn } from '../domain/arns';
import { mapLimit } from '../domain/concurrency';
import { isAccessDenied, isCredentialsError } from './errors';

/** The webhook secret's name (lib/stacks/central-stack.ts CENTRAL_SECRET_NAMES.webhook). */
export const WEBHOOK_SECRET_NAME = 'tfstep/webhook-secret';

export const CheckStatusSchema = z.enum(['ok', 'problem', 'unchecked']);
export type CheckStatus = z.infer<typeof CheckStatusSchema>;

/** One finding. */
export const DoctorCheckSchema = z
  .object({
    /** Stable id such as `launcher.trust`. */
    check: z.string(),
    /** What was checked: an ARN, a name, `account dev`. */
    subject: z.string(),
    status: CheckStatusSchema,
    detail: z.string(),
    /** What to do, for a problem or an unchecked item. */
    fix: z.string().nullable(),
  })
  .strict();
export type DoctorCheck = z.infer<typeof DoctorCheckSchema>;

/** `tfstep doctor --json`. */
export const DoctorReportSchema = z.object({ ok: z.boolean(), problems: z.number(), unchecked: z.number(), checks: z.array(DoctorCheckSchema) }).strict();
export type DoctorReport = z.infer<typeof DoctorReportSchema>;

/** Temporary credentials from AssumeRole. */
export interface RoleCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** The clients doctor calls; ECS clients are made per account with the launcher's credentials. */
export interface DoctorDeps {
  readonly config: Config;
  readonly partition: string;
  readonly sts: STSClient;
  readonly iam: IAMClient;
  readonly sfn: SFNClient;
  readonly secrets: SecretsManagerClient;
  readonly sns: SNSClient;
  readonly ecsWith: (credentials: RoleCredentials, region: string) => ECSClient;
  /** @default 4 */
  readonly concurrency?: number;
}

function message(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

const CREDENTIALS_FIX =
  'provide credentials of the central account: AWS_PROFILE=<profile> (after `aws sso login --profile <profile>` for SSO), or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN';

/** Runs every check; each check's failure is a finding, not an exception. */
export async function runDoctor(deps: DoctorDeps): Promise<DoctorReport> {
  const { config, partition } = deps;
  const checks: DoctorCheck[] = [];
  const add = (check: string, subject: string, status: CheckStatus, detail: string, fix: string | null = null): void => {
    checks.push({ check, subject, status, detail, fix });
  };
  const central = config.central;

  // Credentials first: without them nothing else can be checked.
  let caller: string | undefined;
  try {
    const id = await deps.sts.send(new GetCallerIdentityCommand({}));
    caller = id.Arn;
    if (id.Account !== central.account) {
      add('credentials', id.Arn ?? 'caller', 'problem', `the credentials are of account ${id.Account ?? '?'}, not the central account ${central.account}`, `use a profile of the central account ${central.account} (AWS_PROFILE or --profile)`);
    } else {
      add('credentials', id.Arn ?? 'caller', 'ok', `central account ${central.account}`);
    }
  } catch (err) {
    add('credentials', 'caller', 'problem', isCredentialsError(err) ? 'no usable AWS credentials found' : message(err), CREDENTIALS_FIX);
    return report(checks);
  }
  const otherAccount = checks[0]?.status === 'problem';

  const smArn = stateMachineArn(partition, central.region, central.account);
  let smRoleArn = centralStateMachineRoleArn(partition, config);
  try {
    const sm = await deps.sfn.send(new DescribeStateMachineCommand({ stateMachineArn: smArn }));
    if (sm.roleArn) smRoleArn = sm.roleArn;
    add('state-machine', smArn, sm.status === 'ACTIVE' || sm.status === undefined ? 'ok' : 'problem', `status ${sm.status ?? 'ACTIVE'}, type ${sm.type ?? '?'}`, sm.status === 'DELETING' ? `redeploy the central stack (${names.centralStack()})` : null);
  } catch (err) {
    if ((err as { name?: string }).name === 'StateMachineDoesNotExist') {
      add('state-machine', smArn, 'problem', 'the state machine does not exist', `deploy the central stack first: npx cdk deploy ${names.centralStack()} (in ${central.account} ${central.region})`);
    } else if (isAccessDenied(err)) {
      add('state-machine', smArn, 'unchecked', message(err), 'use credentials allowed states:DescribeStateMachine');
    } else add('state-machine', smArn, 'problem', message(err), null);
  }

  const secretId = WEBHOOK_SECRET_NAME;
  try {
    const s = await deps.secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
    if (s.DeletedDate) add('webhook-secret', secretId, 'problem', `scheduled for deletion on ${s.DeletedDate.toISOString()}`, `restore it: aws secretsmanager restore-secret --secret-id ${secretId}`);
    else add('webhook-secret', secretId, 'ok', 'exists');
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'ResourceNotFoundException') add('webhook-secret', secretId, 'problem', 'the webhook secret does not exist', `deploy the central stack (${names.centralStack()}), which creates it; then set the same value as the git host's webhook secret`);
    else if (isAccessDenied(err)) add('webhook-secret', secretId, 'unchecked', message(err), 'use credentials allowed secretsmanager:DescribeSecret');
    else add('webhook-secret', secretId, 'problem', message(err));
  }

  const topicArn = centralTopicArn(partition, config);
  try {
    let count = 0;
    let pending = 0;
    let nextToken: string | undefined;
    do {
      const out = await deps.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, NextToken: nextToken }));
      for (const sub of out.Subscriptions ?? []) {
        if (sub.SubscriptionArn === 'PendingConfirmation') pending++;
        else count++;
      }
      nextToken = out.NextToken;
    } while (nextToken);
    if (count > 0) add('topic', topicArn, 'ok', `${count} confirmed subscription${count === 1 ? '' : 's'}${pending ? `, ${pending} pending confirmation` : ''}`);
    else {
      add(
        'topic',
        topicArn,
        'problem',
        pending ? `${pending} subscription${pending === 1 ? '' : 's'} pending confirmation and none confirmed: nobody gets approval requests` : 'no subscriptions: nobody gets approval requests or failures',
        pending ? 'confirm the subscription from the email AWS sent' : `subscribe: aws sns subscribe --topic-arn ${topicArn} --protocol email --notification-endpoint you@example.com`,
      );
    }
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'NotFoundException') add('topic', topicArn, 'problem', 'the topic does not exist', `deploy the central stack (${names.centralStack()})`);
    else if (isAccessDenied(err)) add('topic', topicArn, 'unchecked', message(err), 'use credentials allowed sns:ListSubscriptionsByTopic');
    else add('topic', topicArn, 'problem', message(err));
  }

  const perAccount = await mapLimit(config.accounts, deps.concurrency ?? 4, (account) => checkAccount(deps, account, smArn, smRoleArn, otherAccount ? undefined : caller));
  checks.push(...perAccount.flat());
  return report(checks);
}

function report(checks: DoctorCheck[]): DoctorReport {
  const problems = checks.filter((c) => c.status === 'problem').length;
  return { ok: problems === 0, problems, unchecked: checks.filter((c) => c.status === 'unchecked').length, checks };
}

async function checkAccount(deps: DoctorDeps, account: AccountConfig, smArn: string, smRoleArn: string, caller: string | undefined): Promise<DoctorCheck[]> {
  const { config, partition } = deps;
  const region = config.central.region;
  const out: DoctorCheck[] = [];
  const subject = `account ${account.name} (${account.id})`;
  const launcher = launcherRoleArn(partition, config, account);
  const accountStack = names.accountStack(account.name);

  try {
    const sim = await deps.iam.send(new SimulatePrincipalPolicyCommand({ PolicySourceArn: smRoleArn, ActionNames: ['sts:AssumeRole'], ResourceArns: [launcher] }));
    const decision = sim.EvaluationResults?.[0]?.EvalDecision;
    if (decision === 'allowed') out.push({ check: 'launcher.policy', subject, status: 'ok', detail: `the state machine role may assume ${launcher}`, fix: null });
    else {
      out.push({
        check: 'launcher.policy',
        subject,
        status: 'problem',
        detail: `the state machine role ${smRoleArn} may not assume ${launcher} (${decision ?? 'no decision'})`,
        fix: `add account ${account.name} to the config and redeploy the central stack (${names.centralStack()}), whose role policy lists every launcher role`,
      });
    }
  } catch (err) {
    out.push({
      check: 'launcher.policy',
      subject,
      status: isAccessDenied(err) ? 'unchecked' : 'problem',
      detail: `could not simulate the state machine role's policy: ${message(err)}`,
      fix: isAccessDenied(err) ? 'use credentials allowed iam:SimulatePrincipalPolicy on the state machine role' : `deploy the central stack (${names.centralStack()})`,
    });
  }

  let credentials: RoleCredentials | undefined;
  try {
    const assumed = await deps.sts.send(new AssumeRoleCommand({ RoleArn: launcher, RoleSessionName: 'tfstep-doctor', ExternalId: smArn, DurationSeconds: 900 }));
    const c = assumed.Credentials;
    if (c?.AccessKeyId && c.SecretAccessKey) credentials = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
    out.push({ check: 'launcher.assume', subject, status: 'ok', detail: `assumed ${launcher} with the state machine ARN as ExternalId`, fix: null });
  } catch (err) {
    // The launcher trusts only the state machine role, so most callers are refused: that
    // proves nothing either way, and the ECS checks below cannot run.
    out.push({
      check: 'launcher.assume',
      subject,
      status: 'unchecked',
      detail: `${caller ?? 'the caller'} cannot assume ${launcher} (${isAccessDenied(err) ? (err as Error).name : message(err)}); expected, since the launcher role trusts only the state machine role, so the cluster and task definitions were not checked`,
      fix: `in account ${account.id}: aws ecs describe-clusters --clusters ${names.cluster(region)} --region ${region} (if the launcher role is missing, deploy ${accountStack} there)`,
    });
  }
  if (!credentials) return out;

  const ecs = deps.ecsWith(credentials, region);
  try {
    const clusters = await ecs.send(new DescribeClustersCommand({ clusters: [names.cluster(region)] }));
    const cluster = clusters.clusters?.find((c) => c.clusterName === names.cluster(region));
    if (cluster?.status === 'ACTIVE') out.push({ check: 'cluster', subject, status: 'ok', detail: `${names.cluster(region)} is ACTIVE`, fix: null });
    else {
      out.push({
        check: 'cluster',
        subject,
        status: 'problem',
        detail: `cluster ${names.cluster(region)} is ${cluster?.status ?? 'missing'}`,
        fix: `deploy the account stack: npx cdk deploy ${accountStack} (in ${account.id} ${region})`,
      });
    }
    for (const family of [names.planTaskFamily(region), names.applyTaskFamily(region)]) {
      try {
        const td = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family }));
        const status = td.taskDefinition?.status;
        out.push({
          check: 'task-definition',
          subject,
          status: status === 'ACTIVE' ? 'ok' : 'problem',
          detail: `${family}:${td.taskDefinition?.revision ?? '?'} is ${status ?? 'unknown'}`,
          fix: status === 'ACTIVE' ? null : `deploy the account stack: npx cdk deploy ${accountStack}`,
        });
      } catch (err) {
        out.push({ check: 'task-definition', subject, status: 'problem', detail: `${family}: ${message(err)}`, fix: `deploy the account stack: npx cdk deploy ${accountStack} (in ${account.id} ${region})` });
      }
    }
  } catch (err) {
    out.push({ check: 'cluster', subject, status: 'unchecked', detail: `could not describe the cluster with the launcher role: ${message(err)}`, fix: `redeploy ${accountStack}: the launcher role may describe its cluster` });
  } finally {
    ecs.destroy();
  }
  return out;
}

