import { Match, Template } from 'aws-cdk-lib/assertions';
import type { TfstepApp } from '../../lib/app';
import { ConfigError } from '../../lib/config/errors';
import { UndeployableConfigError } from '../../lib/constructs/errors';
import { names } from '../../lib/domain/names';
import { RUNNER_POLICY_PARAMETER, RunnerPolicySchema } from '../../lib/domain/runner-contract';
import { buildExampleApp, removeTempDirs, render, statementsOf, writeExampleVariant, type Statement } from './support';

const REGION = 'us-east-1';
const CENTRAL = '999999999999';
const DEV = '111111111111';
const STATE_MACHINE_ROLE = `arn:aws:iam::${CENTRAL}:role/${names.stateMachineRole(REGION)}`;
const STATE_MACHINE = `arn:aws:states:${REGION}:${CENTRAL}:stateMachine:${names.stateMachine()}`;
const CLUSTER_ARN = `arn:aws:ecs:${REGION}:${DEV}:cluster/${names.cluster(REGION)}`;

/** The rendered statements of every inline policy attached to a role (by logical id). */
function inlineStatements(template: Template, roleLogicalId: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => statementsOf(p.Properties.PolicyDocument));
}

function roleLogicalId(template: Template, roleName: string): string {
  const roles = template.findResources('AWS::IAM::Role', { Properties: { RoleName: roleName } });
  const ids = Object.keys(roles);
  expect(ids).toHaveLength(1);
  return ids[0]!;
}

describe('account stack', () => {
  let built: TfstepApp;
  let template: Template;

  beforeAll(() => {
    // GIVEN the example config (three accounts); WHEN the app is built
    built = buildExampleApp();
    template = Template.fromStack(built.accounts.get('dev')!);
  });

  afterAll(removeTempDirs);

  it('deploys to the account in the central region', () => {
    // THEN
    const stack = built.accounts.get('dev')!;
    expect(stack.account).toBe(DEV);
    expect(stack.region).toBe(REGION);
    expect(stack.stackName).toBe(names.accountStack('dev'));
  });

  it('creates one account stack per configured account', () => {
    // THEN
    expect([...built.accounts.keys()].sort()).toEqual(['dev', 'prod', 'stage']);
    expect([...built.accounts.values()].map((s) => s.account).sort()).toEqual(['111111111111', '222222222222', '333333333333']);
  });

  it('trusts only the central state machine role, with the pipeline or plan-only state machine ARN, plain or labelled by a Map, as external id', () => {
    // WHEN
    const launcher = template.findResources('AWS::IAM::Role', { Properties: { RoleName: names.launcherRole(REGION) } });
    const PLAN_ONLY = STATE_MACHINE.replace(names.stateMachine(), names.planOnlyStateMachine());
    const [role] = Object.values(launcher);
    const trust = statementsOf(role!.Properties.AssumeRolePolicyDocument);
    // THEN
    expect(trust).toEqual([
      {
        Effect: 'Allow',
        Action: ['sts:AssumeRole'],
        Resource: [],
        Principal: { AWS: STATE_MACHINE_ROLE },
        Condition: { StringLike: { 'sts:ExternalId': [STATE_MACHINE, `${STATE_MACHINE}/*`, PLAN_ONLY, `${PLAN_ONLY}/*`] } },
      },
    ]);
    // AND the pattern admits the Distributed Map child's labelled ARN and nothing else
    const like = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);
    const accepts = (value: string) => [STATE_MACHINE, `${STATE_MACHINE}/*`, PLAN_ONLY, `${PLAN_ONLY}/*`].some((p) => like(p, value));
    expect(accepts(`${PLAN_ONLY}/PlanOnly`)).toBe(true);
    expect(accepts(STATE_MACHINE)).toBe(true);
    expect(accepts(`${STATE_MACHINE}/Accounts`)).toBe(true);
    expect(accepts(`${STATE_MACHINE}-other`)).toBe(false);
    expect(accepts(STATE_MACHINE.replace('999999999999', '888888888888'))).toBe(false);
  });

  it('lets the launcher run only the runner task definitions, on the runner cluster', () => {
    // WHEN
    const statements = inlineStatements(template, roleLogicalId(template, names.launcherRole(REGION)));
    const runTask = statements.filter((s) => s.Action.some((a) => a === 'ecs:RunTask' || a === 'ecs:*' || a === '*'));
    // THEN
    expect(runTask).toHaveLength(1);
    expect(runTask[0]!.Action).toEqual(['ecs:RunTask']);
    expect(runTask[0]!.Resource.sort()).toEqual(
      [names.applyTaskFamily(REGION), names.planTaskFamily(REGION)].map((f) => `arn:aws:ecs:${REGION}:${DEV}:task-definition/${f}:*`),
    );
    expect(runTask[0]!.Condition).toEqual({ ArnEquals: { 'ecs:cluster': CLUSTER_ARN } });
    for (const s of statements) expect(s.Effect).toBe('Allow');
    expect(statements.flatMap((s) => s.Action).sort()).toEqual(['ecs:DescribeTasks', 'ecs:RunTask', 'ecs:StopTask', 'ecs:TagResource', 'iam:PassRole']);
  });

  it('lets the launcher watch and tag only tasks of the runner cluster', () => {
    // WHEN
    const statements = inlineStatements(template, roleLogicalId(template, names.launcherRole(REGION)));
    const tasks = `arn:aws:ecs:${REGION}:${DEV}:task/${names.cluster(REGION)}/*`;
    // THEN
    const watch = statements.find((s) => s.Action.includes('ecs:DescribeTasks'))!;
    expect(watch.Resource).toEqual([tasks]);
    expect(watch.Condition).toEqual({ ArnEquals: { 'ecs:cluster': CLUSTER_ARN } });
    const tag = statements.find((s) => s.Action.includes('ecs:TagResource'))!;
    expect(tag.Resource).toEqual([tasks]);
    expect(tag.Condition).toEqual({ StringEquals: { 'ecs:CreateAction': 'RunTask' } });
  });

  it('lets the launcher pass only the runner roles, and only to ECS tasks', () => {
    // WHEN
    const statements = inlineStatements(template, roleLogicalId(template, names.launcherRole(REGION)));
    const pass = statements.filter((s) => s.Action.includes('iam:PassRole'));
    const runnerRoles = [
      roleLogicalId(template, names.planRole(REGION)),
      roleLogicalId(template, names.applyRole(REGION)),
      Object.keys(template.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('task execution') } }))[0]!,
    ];
    // THEN
    expect(pass).toHaveLength(1);
    expect(pass[0]!.Resource.sort()).toEqual(runnerRoles.map((id) => `<${id}.Arn>`).sort());
    expect(pass[0]!.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
  });

  it('gives the plan role no write permission beyond Terraform state locking, its artifacts prefix and its plan records', () => {
    // GIVEN what a plan may write: lock files in state buckets, lock tables, its own artifacts, the account's plan records
    const allowedWrites = [
      new RegExp(`^arn:aws:dynamodb:${REGION}:${DEV}:table/${names.planRecordsTable(REGION)}$`),
      /^arn:aws:s3:::[^/]*(tfstate|terraform-state|tf-state)[^/]*\/\*\.tflock$/,
      // lock tables live in the state's region, not necessarily the central one
      new RegExp(`^arn:aws:dynamodb:\\*:${DEV}:table/[^/]*(tfstate|terraform-state|tf-state|terraform-lock|tf-lock)[^/]*$`),
      new RegExp(`^arn:aws:s3:::${names.artifactsBucket(CENTRAL, REGION)}/accounts/dev/\\*$`),
    ];
    const readOnly = /^(s3:Get\w*|s3:List\w*|dynamodb:(Get\w*|Describe\w*|Query|Scan)|ssm:(Get\w*|Describe\w*))$/;
    const planRole = roleLogicalId(template, names.planRole(REGION));
    // WHEN every statement of every policy attached to it is walked
    const role = template.findResources('AWS::IAM::Role')[planRole]!;
    const statements = [
      ...inlineStatements(template, planRole),
      ...((role.Properties.Policies ?? []) as { PolicyDocument: unknown }[]).flatMap((p) => statementsOf(p.PolicyDocument)),
    ];
    // THEN only the AWS ReadOnlyAccess managed policy is attached
    expect(role.Properties.ManagedPolicyArns).toEqual([{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/ReadOnlyAccess']] }]);
    // AND every action that is not a read targets only state storage or its artifacts prefix
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      for (const action of s.Action) {
        expect(action).not.toContain('*');
        if (readOnly.test(action)) continue;
        for (const resource of s.Resource) {
          expect({ action, resource, allowed: allowedWrites.some((re) => re.test(resource)) }).toEqual({ action, resource, allowed: true });
        }
      }
    }
  });

  describe('plan records', () => {
    const TABLE_ARN = `arn:aws:dynamodb:${REGION}:${DEV}:table/${names.planRecordsTable(REGION)}`;
    const WRITES = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate'];
    /** Every Allow statement of every inline policy in the stack, with the role it is attached to. */
    const allows = () =>
      Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) =>
        statementsOf(p.Properties.PolicyDocument)
          .filter((st) => st.Effect === 'Allow')
          .flatMap((st) => (p.Properties.Roles as { Ref: string }[]).map((r) => ({ role: r.Ref, actions: st.Action, resources: st.Resource }))),
      );

    it('creates a table in the account, keyed by execution and module, kept and expiring its items', () => {
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: names.planRecordsTable(REGION),
        KeySchema: [
          { AttributeName: 'execution', KeyType: 'HASH' },
          { AttributeName: 'module', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      });
      const tables = template.findResources('AWS::DynamoDB::Table', { Properties: { TableName: names.planRecordsTable(REGION) } });
      expect(Object.values(tables)[0]!.DeletionPolicy).toBe('Retain');
      // Its logical id is a contract: renaming it would replace the table and lose the records of pending applies.
      expect(Object.keys(tables)).toEqual(['PlanRecordsTable39B56756']);
    });

    it('lets only the plan role write a record: its policy allows PutItem alone, the apply role may only read, the launcher nothing', () => {
      // WHEN every allow naming the table is collected, by role
      const planRole = roleLogicalId(template, names.planRole(REGION));
      const applyRole = roleLogicalId(template, names.applyRole(REGION));
      const onTable = allows().filter((a) => a.resources.some((r) => r === TABLE_ARN || r === '*'));
      // THEN the plan role may PutItem, the apply role GetItem, and no other role may do anything there
      expect(onTable.filter((a) => a.resources.includes(TABLE_ARN)).map((a) => ({ role: a.role, actions: a.actions }))).toEqual(
        expect.arrayContaining([
          { role: planRole, actions: ['dynamodb:PutItem'] },
          { role: applyRole, actions: ['dynamodb:GetItem'] },
        ]),
      );
      const writers = onTable.filter((a) => a.actions.some((act) => WRITES.includes(act) || act === 'dynamodb:*' || act === '*')).map((a) => a.role);
      expect([...new Set(writers)]).toEqual([planRole]);
      const launcher = roleLogicalId(template, names.launcherRole(REGION));
      expect(allows().filter((a) => a.role === launcher && a.actions.some((act) => act.startsWith('dynamodb:')))).toEqual([]);
    });

    it('denies item writes on the table to every principal but the plan role, in the table\'s own policy', () => {
      // WHEN the table's resource policy is read
      const [table] = Object.values(template.findResources('AWS::DynamoDB::Table', { Properties: { TableName: names.planRecordsTable(REGION) } }));
      const statements = statementsOf((table!.Properties.ResourcePolicy as { PolicyDocument: unknown }).PolicyDocument);
      // THEN one explicit deny: item writes, by anyone whose principal is not the plan role
      const planRole = roleLogicalId(template, names.planRole(REGION));
      expect(statements).toEqual([
        {
          Sid: 'OnlyThePlanRoleRecordsPlans',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: WRITES,
          Resource: ['*'],
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': `<${planRole}.Arn>` } },
        },
      ]);
    });

    it('denies the apply role (AdministratorAccess) every write to the records and every change to the table or its policy', () => {
      const applyRole = roleLogicalId(template, names.applyRole(REGION));
      const guard = inlineStatements(template, applyRole).find((st) => st.Sid === 'GuardPlanRecords');
      expect(guard).toMatchObject({ Effect: 'Deny', Resource: [TABLE_ARN] });
      expect(guard!.Action).toEqual(expect.arrayContaining([...WRITES, 'dynamodb:DeleteItem', 'dynamodb:DeleteTable', 'dynamodb:UpdateTable', 'dynamodb:PutResourcePolicy', 'dynamodb:DeleteResourcePolicy']));
    });
  });

  it('gives the apply role AdministratorAccess and its artifacts prefix', () => {
    // WHEN
    const applyRole = roleLogicalId(template, names.applyRole(REGION));
    // THEN
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: names.applyRole(REGION),
      ManagedPolicyArns: [{ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AdministratorAccess']] }],
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'ecs-tasks.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': DEV } } })],
      },
    });
    const artifacts = inlineStatements(template, applyRole).find((s) => s.Sid === 'TfstepArtifactsOwnPrefix');
    expect(artifacts?.Resource).toEqual([`arn:aws:s3:::${names.artifactsBucket(CENTRAL, REGION)}/accounts/dev/*`]);
    expect(artifacts?.Action).toEqual(['s3:GetObject', 's3:PutObject']);
  });

  it('defines the plan and apply task definitions with the runner container', () => {
    // THEN
    for (const [family, roleName] of [
      [names.planTaskFamily(REGION), names.planRole(REGION)],
      [names.applyTaskFamily(REGION), names.applyRole(REGION)],
    ] as const) {
      template.hasResourceProperties('AWS::ECS::TaskDefinition', {
        Family: family,
        RequiresCompatibilities: ['FARGATE'],
        NetworkMode: 'awsvpc',
        Cpu: '1024',
        Memory: '2048',
        TaskRoleArn: { 'Fn::GetAtt': [roleLogicalId(template, roleName), 'Arn'] },
        ContainerDefinitions: [
          Match.objectLike({
            Name: names.runnerContainer(),
            Image: 'public.ecr.aws/tfstep/runner:0.1.0',
            Essential: true,
            ReadonlyRootFilesystem: true,
            // SIGTERM reaches the runner through an init process, and it has Fargate's longest grace
            // to stop terraform with SIGINT before SIGKILL.
            StopTimeout: 120,
            LinuxParameters: { InitProcessEnabled: true },
            MountPoints: [{ ContainerPath: '/tmp', SourceVolume: 'scratch', ReadOnly: false }],
            LogConfiguration: Match.objectLike({ LogDriver: 'awslogs' }),
            Environment: Match.absent(),
            Command: Match.absent(),
          }),
        ],
      });
    }
    template.resourceCountIs('AWS::ECS::TaskDefinition', 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: Match.anyValue() });
    // Both write to the one log group the operator CLI reads, under its stream prefix.
    template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: names.runnerLogGroup(REGION) });
    for (const td of Object.values(template.findResources('AWS::ECS::TaskDefinition'))) {
      const options = td.Properties.ContainerDefinitions[0].LogConfiguration.Options;
      expect(options['awslogs-stream-prefix']).toBe(names.runnerLogStreamPrefix());
    }
  });

  it('runs the cluster with container insights', () => {
    // THEN
    template.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterName: names.cluster(REGION),
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  it('writes the account runner policy, readable by both task roles', () => {
    // WHEN
    const params = Object.values(template.findResources('AWS::SSM::Parameter'));
    // THEN
    expect(params).toHaveLength(1);
    expect(params[0]!.Properties.Name).toBe(RUNNER_POLICY_PARAMETER);
    const policy = RunnerPolicySchema.parse(JSON.parse(params[0]!.Properties.Value as string));
    expect(policy).toEqual({
      account: 'dev',
      repositories: ['https://github.com/acme/infrastructure-live.git', 'git@github.com:acme/infrastructure-live.git'],
      refs: ['refs/heads/main'],
      tool: 'terraform',
      allowedSubcommands: ['init', 'plan', 'show', 'apply'],
      phases: ['plan', 'apply', 'plan-and-apply'],
      artifacts: `s3://${names.artifactsBucket(CENTRAL, REGION)}`,
      // the account's own record of the plans its plan task made
      planRecords: `dynamodb://${names.planRecordsTable(REGION)}`,
      // the account's region: terraform's AWS_REGION, whatever region the task runs in
      region: 'us-east-1',
      // a module must keep state remotely and commit its provider lock file
      requireRemoteBackend: true,
      requireLockFile: true,
      // what the runner masks in logs and results beside the values a plan marks sensitive
      redact: { defaults: true, names: [], values: [] },
    });
    const [paramId] = Object.keys(template.findResources('AWS::SSM::Parameter'));
    for (const roleName of [names.planRole(REGION), names.applyRole(REGION)]) {
      const read = inlineStatements(template, roleLogicalId(template, roleName)).filter((s) => s.Action.includes('ssm:GetParameter'));
      // The parameter's Ref is its name, which starts with "/".
      expect(read.flatMap((s) => s.Resource)).toEqual([`arn:aws:ssm:${REGION}:${DEV}:parameter<${paramId}>`]);
    }
  });

  it('lets the execution role pull a private ECR runner image, and only that repository', () => {
    // GIVEN a runner image pinned by digest in a private ECR repository of the central account
    const digest = `sha256:${'ab'.repeat(32)}`;
    const file = writeExampleVariant((doc) => {
      doc.runner = { ...(doc.runner as object), image: `${CENTRAL}.dkr.ecr.${REGION}.amazonaws.com/tfstep/runner@${digest}` };
    });
    // WHEN
    const dev = Template.fromStack(buildExampleApp({}, file).accounts.get('dev')!);
    // THEN the task definition pulls that digest
    const taskDefinition = Object.values(dev.findResources('AWS::ECS::TaskDefinition', { Properties: { Family: names.planTaskFamily(REGION) } }))[0]!;
    const [container] = taskDefinition.Properties.ContainerDefinitions as { Image: unknown }[];
    expect(render(container!.Image)).toBe(`${CENTRAL}.dkr.ecr.${REGION}.<AWS::URLSuffix>/tfstep/runner@${digest}`);
    // AND the execution role may pull from that repository only
    const executionRole = Object.keys(dev.findResources('AWS::IAM::Role', { Properties: { Description: Match.stringLikeRegexp('task execution') } }))[0]!;
    const pulls = inlineStatements(dev, executionRole).filter((s) => s.Action.includes('ecr:BatchGetImage'));
    expect(pulls.flatMap((s) => s.Resource)).toEqual([`arn:aws:ecr:${REGION}:${CENTRAL}:repository/tfstep/runner`]);
  });

  it('fails when two accounts share one account id', () => {
    // GIVEN a config whose stage account reuses the dev account id in another region
    const file = writeExampleVariant((doc) => {
      const accounts = doc.accounts as Record<string, unknown>[];
      accounts[1]!.id = DEV;
      accounts[1]!.region = 'eu-west-1';
    });
    // WHEN / THEN the config schema refuses it, as tfstep validate and the local mode do
    expect(() => buildExampleApp({}, file)).toThrow(ConfigError);
    expect(() => buildExampleApp({}, file)).toThrow(/accounts\[1\]\.id: got "111111111111"; expected each account id once \(111111111111 is also accounts\[0\]\)/);
  });

  it('fails when the runner memory does not fit its cpu', () => {
    // GIVEN 256 CPU units with 8 GiB, which Fargate does not offer
    const file = writeExampleVariant((doc) => {
      doc.runner = { ...(doc.runner as object), cpu: 256, memoryMiB: 8192 };
    });
    // WHEN / THEN the config schema refuses it, as tfstep validate does
    expect(() => buildExampleApp({}, file)).toThrow(ConfigError);
    expect(() => buildExampleApp({}, file)).toThrow(/runner\.memoryMiB: got 8192; expected memoryMiB 8192 does not fit cpu 256; expected 512 to 2048/);
  });

  it('fails when an account has no network, before any template is made', () => {
    // GIVEN the stage account without network: RunTask would fail in every run
    const file = writeExampleVariant((doc) => {
      delete (doc.accounts as Record<string, unknown>[])[1]!.network;
    });
    // WHEN / THEN
    expect(() => buildExampleApp({}, file)).toThrow(UndeployableConfigError);
    expect(() => buildExampleApp({}, file)).toThrow(/accounts\[1\]\.network: account stage has no network/);
  });

  it("denies the apply role every change to the account's guard: runner policy, tfstep roles (its own too), cluster, task definitions, logs, stack", () => {
    // WHEN
    const applyRole = roleLogicalId(template, names.applyRole(REGION));
    const denies = inlineStatements(template, applyRole).filter((s) => s.Effect === 'Deny');
    const denied = (action: string, resource: string) => denies.some((s) => s.Action.includes(action) && s.Resource.includes(resource));
    const [paramId] = Object.keys(template.findResources('AWS::SSM::Parameter'));
    // THEN the runner policy cannot be rewritten or deleted
    for (const a of ['ssm:PutParameter', 'ssm:DeleteParameter']) expect(denied(a, `arn:aws:ssm:${REGION}:${DEV}:parameter<${paramId}>`)).toBe(true);
    // AND no tfstep role can be changed: trust, policies, boundary, deletion
    const roles = [names.launcherRole(REGION), names.planRole(REGION), names.applyRole(REGION)].map((n) => `<${roleLogicalId(template, n)}.Arn>`);
    for (const role of roles) {
      for (const a of ['iam:UpdateAssumeRolePolicy', 'iam:PutRolePolicy', 'iam:DeleteRolePolicy', 'iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:DeleteRole', 'iam:PutRolePermissionsBoundary', 'iam:PassRole']) {
        expect({ role, a, denied: denied(a, role) }).toEqual({ role, a, denied: true });
      }
    }
    // AND the cluster, the task definition families, the runner logs and the account stack are out of reach
    expect(denied('ecs:DeleteCluster', CLUSTER_ARN)).toBe(true);
    expect(denied('ecs:DeregisterTaskDefinition', `arn:aws:ecs:${REGION}:${DEV}:task-definition/${names.planTaskFamily(REGION)}:*`)).toBe(true);
    expect(denied('logs:DeleteLogGroup', `arn:aws:logs:${REGION}:${DEV}:log-group:${names.runnerLogGroup(REGION)}`)).toBe(true);
    expect(denied('cloudformation:DeleteStack', `arn:aws:cloudformation:${REGION}:${DEV}:stack/${names.accountStack('dev')}/*`)).toBe(true);
    // AND the plan role (read-only) needs no denies, and gets none
    expect(inlineStatements(template, roleLogicalId(template, names.planRole(REGION))).filter((s) => s.Effect === 'Deny')).toEqual([]);
  });
});

describe('account stack with managed policies named in the config', () => {
  afterAll(removeTempDirs);

  it('GIVEN narrower plan and apply policies in the config WHEN built THEN the roles carry exactly those, and the synth validators accept them', () => {
    const file = writeExampleVariant((doc) => {
      doc.runner = { ...(doc.runner as object), planManagedPolicies: ['job-function/ViewOnlyAccess'], applyManagedPolicies: ['PowerUserAccess', 'IAMFullAccess'] };
    });
    const built = buildExampleApp({ validate: true }, file);
    const t = Template.fromStack(built.accounts.get('dev')!);
    const arns = (name: string) => (Object.values(t.findResources('AWS::IAM::Role', { Properties: { RoleName: name } }))[0]!.Properties.ManagedPolicyArns as unknown[]).map((a) => render(a));
    expect(arns(names.planRole(REGION))).toEqual(['arn:aws:iam::aws:policy/job-function/ViewOnlyAccess']);
    expect(arns(names.applyRole(REGION))).toEqual(['arn:aws:iam::aws:policy/PowerUserAccess', 'arn:aws:iam::aws:policy/IAMFullAccess']);
    expect(() => built.app.synth({ force: true })).not.toThrow();
  }, 240_000);
});

describe("account stack with the account's state settings", () => {
  const KEY = `arn:aws:kms:eu-west-1:${DEV}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
  afterAll(removeTempDirs);

  function statesOf(state: Record<string, unknown>): { plan: Statement[]; apply: Statement[] } {
    const file = writeExampleVariant((doc) => {
      const accounts = doc.accounts as Record<string, unknown>[];
      accounts[0]!.region = 'eu-west-1';
      accounts[0]!.state = state;
    });
    const t = Template.fromStack(buildExampleApp({}, file).accounts.get('dev')!);
    const allow = (name: string) => inlineStatements(t, roleLogicalId(t, name)).filter((s) => s.Effect === 'Allow' && s.Sid?.startsWith('TerraformState'));
    return { plan: allow(names.planRole(REGION)), apply: allow(names.applyRole(REGION)) };
  }

  it('GIVEN a bucket, key prefix, lock table and KMS key WHEN built THEN plan reads and locks, apply writes, both in the state region and under the prefix only', () => {
    const { plan, apply } = statesOf({ bucket: 'acme-tf-state-dev', keyPrefix: 'live/', lockTable: 'tf-locks', kmsKey: KEY });
    const bySid = (list: Statement[]) => Object.fromEntries(list.map((s) => [s.Sid, { Action: s.Action, Resource: s.Resource, Condition: s.Condition }]));
    expect(bySid(plan)).toEqual({
      TerraformStateList: { Action: ['s3:ListBucket'], Resource: ['arn:aws:s3:::acme-tf-state-dev'], Condition: { StringLike: { 's3:prefix': ['live/*'] } } },
      TerraformStateRead: { Action: ['s3:GetObject'], Resource: ['arn:aws:s3:::acme-tf-state-dev/live/*'], Condition: undefined },
      // the lock table of the account's region (eu-west-1), not the central one
      TerraformStateLockTable: {
        Action: ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:DescribeTable'],
        Resource: [`arn:aws:dynamodb:eu-west-1:${DEV}:table/tf-locks`],
        Condition: undefined,
      },
      TerraformStateKey: { Action: ['kms:Decrypt'], Resource: [KEY], Condition: undefined },
    });
    expect(bySid(apply)).toMatchObject({
      TerraformStateReadWrite: { Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'], Resource: ['arn:aws:s3:::acme-tf-state-dev/live/*'] },
      TerraformStateKey: { Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'], Resource: [KEY] },
      TerraformStateLockTable: { Resource: [`arn:aws:dynamodb:eu-west-1:${DEV}:table/tf-locks`] },
    });
    // no default name patterns beside the configured state
    expect([...plan, ...apply].flatMap((s) => s.Resource).filter((r) => r.includes('tfstate'))).toEqual([]);
  });

  it('GIVEN S3 native locking WHEN built THEN the plan may write lock files only, with a data key for them', () => {
    const { plan } = statesOf({ bucket: 'acme-tf-state-dev', lockfile: true, kmsKey: KEY });
    expect(plan.find((s) => s.Sid === 'TerraformStateLockFile')).toMatchObject({ Action: ['s3:PutObject', 's3:DeleteObject'], Resource: ['arn:aws:s3:::acme-tf-state-dev/*.tflock'] });
    expect(plan.find((s) => s.Sid === 'TerraformStateKey')?.Action).toEqual(['kms:Decrypt', 'kms:GenerateDataKey']);
  });

  it('GIVEN state in a separate state account WHEN built THEN plan and apply may only assume its role', () => {
    const role = 'arn:aws:iam::444444444444:role/terraform-state';
    const { plan, apply } = statesOf({ bucket: 'acme-tf-state', lockfile: true, roleArn: role });
    for (const list of [plan, apply]) expect(list.map((s) => ({ Action: s.Action, Resource: s.Resource }))).toEqual([{ Action: ['sts:AssumeRole', 'sts:TagSession'], Resource: [role] }]);
  });
});
