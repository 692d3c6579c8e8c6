import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { UndeployableConfigError } from '../../lib/constructs/errors';
import { names } from '../../lib/domain/names';
import { RUNNER_POLICY_PARAMETER, RunnerPolicySchema } from '../../lib/domain/runner-contract';
import { buildExampleApp, removeTempDirs, render, statementsOf, writeExampleVariant } from './support';

const NETWORK = { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef0'] };
const PROD_OU = 'ou-ab12-22222222';
const DEV_OU = 'ou-ab12-44444444';
const SANDBOX_OU = 'ou-ab12-55555555';
const ADMIN = '555555555555';

/** Prod's plan policies in the fleet variant: a protect rule. */
const PROD_POLICIES = { protect: [{ id: 'keep-databases', types: ['aws_db_instance'], message: 'prod databases stay' }] };
/** Stage's plan policies in the fleet variant: a limit on destroys, as a warning. */
const STAGE_POLICIES = { maxDestroys: [{ id: 'few-destroys', effect: 'warn', perModule: 3 }] };

/**
 * The example config with a fleet: two OU rules (prod, dev) in two regions, a StackSet in a
 * delegated administrator. Prod protects databases, stage limits destroys, dev has no rules.
 */
function fleetVariant(change: (fleet: Record<string, any>) => void = () => undefined): string {
  return writeExampleVariant((doc) => {
    const stages = doc.stages as Record<string, Record<string, unknown>>;
    stages.prod!.policies = PROD_POLICIES;
    stages.stage!.policies = STAGE_POLICIES;
    doc.policyOwners = ['dana@example.com'];
    const fleet: Record<string, any> = {
      organizations: { id: 'o-a1b2c3d4e5', roleArn: `arn:aws:iam::${ADMIN}:role/tfstep-organizations-read` },
      ous: [
        { path: '/workloads/prod', id: PROD_OU, stage: 'prod', region: 'eu-west-1', network: NETWORK },
        { path: '/workloads/dev', id: DEV_OU, stage: 'dev', region: 'us-east-1', network: NETWORK },
      ],
      tags: [{ tag: { key: 'tfstep:stage', value: 'stage' }, stage: 'stage', region: 'us-east-1', network: NETWORK }],
      stackSet: { account: ADMIN, extraOrganizationalUnitIds: [SANDBOX_OU] },
    };
    change(fleet);
    doc.fleet = fleet;
  });
}

interface TemplateBody {
  Parameters: Record<string, { Default?: string; AllowedValues?: string[] }>;
  Mappings?: Record<string, Record<string, Record<string, string>>>;
  Rules?: unknown;
  Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
}

function templateBodyOf(built: ReturnType<typeof buildExampleApp>): TemplateBody {
  return JSON.parse(Template.fromStack(built.fleet!.stackSet).findResources('AWS::CloudFormation::StackSet').AccountStacks!.Properties.TemplateBody as string) as TemplateBody;
}

/**
 * The runner policy a StackSet instance writes, resolved as CloudFormation would: `Fn::Sub` in
 * one pass over its literal string (`${!x}` stays `${x}`), its variables from `Fn::FindInMap` by
 * the stage parameter, then the account id and the region parameter.
 */
function renderedPolicy(body: TemplateBody, values: { stage: string; accountId: string; region: string }): unknown {
  const [param] = Object.values(body.Resources).filter((r) => r.Type === 'AWS::SSM::Parameter' && r.Properties.Name === RUNNER_POLICY_PARAMETER);
  const [text, vars] = param!.Properties.Value['Fn::Sub'] as [string, Record<string, { 'Fn::FindInMap': [string, unknown, string] }>];
  expect(typeof text).toBe('string');
  const variables: Record<string, string> = { 'AWS::AccountId': values.accountId, TerraformRegion: values.region };
  for (const [name, value] of Object.entries(vars)) {
    const [map, key1, key2] = value['Fn::FindInMap'];
    expect(key1).toEqual({ Ref: 'TfstepStage' });
    const found = body.Mappings?.[map]?.[values.stage]?.[key2];
    if (found === undefined) throw new Error(`no ${map}.${values.stage}.${key2} in the template's Mappings`);
    variables[name] = found;
  }
  const resolved = text.replace(/\$\{(!?)([^}]*)\}/g, (_, bang: string, name: string) => {
    if (bang === '!') return `\${${name}}`;
    const value = variables[name];
    if (value === undefined) throw new Error(`Fn::Sub variable \${${name}} has no value`);
    return value;
  });
  return JSON.parse(resolved);
}

interface ReportFile {
  pluginReports: { violations: unknown[] }[];
}

describe('fleet StackSet', () => {
  afterAll(removeTempDirs);

  it('targets the OUs of the OU rules with automatic deployment, named IAM capability and each OU rule region', () => {
    // GIVEN the fleet variant WHEN the app is built
    const built = buildExampleApp({}, fleetVariant());
    const stack = built.fleet!.stackSet;
    // THEN the StackSet lives in the delegated administrator, in the central region
    expect(stack.account).toBe(ADMIN);
    expect(stack.region).toBe('us-east-1');
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::CloudFormation::StackSet', 1);
    template.hasResourceProperties('AWS::CloudFormation::StackSet', {
      StackSetName: names.fleetStackSet(),
      PermissionModel: 'SERVICE_MANAGED',
      CallAs: 'DELEGATED_ADMIN',
      AutoDeployment: { Enabled: true, RetainStacksOnAccountRemoval: true },
      Capabilities: ['CAPABILITY_NAMED_IAM'],
      OperationPreferences: { MaxConcurrentPercentage: 25, FailureTolerancePercentage: 0, RegionConcurrencyType: 'PARALLEL' },
      StackInstancesGroup: [
        {
          DeploymentTargets: { OrganizationalUnitIds: [PROD_OU] },
          Regions: ['us-east-1'],
          ParameterOverrides: [
            { ParameterKey: 'TerraformRegion', ParameterValue: 'eu-west-1' },
            { ParameterKey: 'TfstepStage', ParameterValue: 'prod' },
          ],
        },
        {
          DeploymentTargets: { OrganizationalUnitIds: [DEV_OU] },
          Regions: ['us-east-1'],
          ParameterOverrides: [
            { ParameterKey: 'TerraformRegion', ParameterValue: 'us-east-1' },
            { ParameterKey: 'TfstepStage', ParameterValue: 'dev' },
          ],
        },
        // The OUs of tag rules: the template's region, every stage's rules
        { DeploymentTargets: { OrganizationalUnitIds: [SANDBOX_OU] }, Regions: ['us-east-1'], ParameterOverrides: [{ ParameterKey: 'TfstepStage', ParameterValue: 'ALL' }] },
      ],
    });
    // AND the listed accounts keep their own stacks
    expect([...built.accounts.keys()].sort()).toEqual(['dev', 'prod', 'stage']);
  });

  it('groups the OUs by region and stage: one group per pair, each with both overrides', () => {
    // GIVEN two prod OUs and a dev OU, all in eu-west-1, and no extra OUs
    const OTHER_PROD_OU = 'ou-ab12-33333333';
    const file = fleetVariant((fleet) => {
      fleet.ous = [
        { id: PROD_OU, stage: 'prod', region: 'eu-west-1', network: NETWORK },
        { id: DEV_OU, stage: 'dev', region: 'eu-west-1', network: NETWORK },
        { id: OTHER_PROD_OU, stage: 'prod', region: 'eu-west-1', network: NETWORK },
      ];
      fleet.stackSet.extraOrganizationalUnitIds = [];
    });
    // WHEN built
    const groups = Template.fromStack(buildExampleApp({}, file).fleet!.stackSet).findResources('AWS::CloudFormation::StackSet').AccountStacks!.Properties.StackInstancesGroup as unknown[];
    // THEN the prod OUs share one group and dev has its own, with no group for extra OUs
    const overrides = (stage: string) => [
      { ParameterKey: 'TerraformRegion', ParameterValue: 'eu-west-1' },
      { ParameterKey: 'TfstepStage', ParameterValue: stage },
    ];
    expect(groups).toEqual([
      { DeploymentTargets: { OrganizationalUnitIds: [PROD_OU, OTHER_PROD_OU] }, Regions: ['us-east-1'], ParameterOverrides: overrides('prod') },
      { DeploymentTargets: { OrganizationalUnitIds: [DEV_OU] }, Regions: ['us-east-1'], ParameterOverrides: overrides('dev') },
    ]);
  });

  it("carries the account stack as its body, naming each instance's account and region from the template", () => {
    const built = buildExampleApp({}, fleetVariant());
    const body = templateBodyOf(built);
    // THEN it has no bootstrap parameter (a StackSet instance has no CDK bootstrap), the region and the stage parameters
    expect(Object.keys(body.Parameters)).toEqual(['TerraformRegion', 'TfstepStage']);
    expect(body.Parameters.TfstepStage).toEqual(expect.objectContaining({ Default: 'ALL', AllowedValues: ['dev', 'stage', 'prod', 'ALL'] }));
    expect(body.Rules).toBeUndefined();
    // AND the runner policy names the instance's own account (acct-<id>) and region
    const policy = RunnerPolicySchema.parse(renderedPolicy(body, { stage: 'dev', accountId: '123456789012', region: 'eu-west-1' }));
    expect(policy.account).toBe('acct-123456789012');
    expect(policy.region).toBe('eu-west-1');
    // AND the roles keep the names the central side finds them by
    const roleNames = Object.values(body.Resources).filter((r) => r.Type === 'AWS::IAM::Role').map((r) => r.Properties.RoleName as string);
    expect(roleNames).toEqual(expect.arrayContaining([names.launcherRole('us-east-1'), names.planRole('us-east-1'), names.applyRole('us-east-1')]));
  });

  it("writes each stage's plan policies in the runner policy of that stage's accounts, and every stage's rules for the OUs of tag rules", () => {
    // GIVEN the fleet variant (prod protects databases, stage limits destroys, dev has no rule) WHEN built
    const body = templateBodyOf(buildExampleApp({}, fleetVariant()));
    const policyOf = (stage: string) => RunnerPolicySchema.parse(renderedPolicy(body, { stage, accountId: '210987654321', region: 'eu-west-1' }));
    // THEN an account of the prod OU (stage prod) enforces prod's protect rule, and nothing else
    const prod = policyOf('prod');
    expect(prod.account).toBe('acct-210987654321');
    expect(prod.planPolicies).toEqual({ protect: [{ id: 'keep-databases', effect: 'deny', types: ['aws_db_instance'], addresses: [], message: 'prod databases stay' }], maxDestroys: [], custom: [] });
    // AND an account of the dev OU has no plan policies at all
    expect(policyOf('dev').planPolicies).toBeUndefined();
    // AND the policies differ by stage only: the rest is the same policy
    const { planPolicies: _p, ...prodRest } = prod;
    expect(policyOf('dev')).toEqual(prodRest);
    // AND the OUs of tag rules (stage ALL) enforce every stage's rules, ids prefixed with their stage: a deny of any stage wins
    const all = policyOf('ALL').planPolicies!;
    expect(all.protect).toEqual([expect.objectContaining({ id: 'prod-keep-databases', effect: 'deny', types: ['aws_db_instance'], message: 'prod databases stay' })]);
    expect(all.maxDestroys).toEqual([expect.objectContaining({ id: 'stage-few-destroys', effect: 'warn', perModule: 3, message: "stage stage's rule few-destroys" })]);
    expect(all.custom).toEqual([]);
    // AND each rendered policy fits the Standard SSM parameter it is written to
    for (const stage of ['dev', 'stage', 'prod', 'ALL']) expect(Buffer.byteLength(JSON.stringify(policyOf(stage)))).toBeLessThanOrEqual(4096);
  });

  it("refuses a fleet whose policy with every stage's rules passes the 4 KB of a Standard SSM parameter, naming the stage", () => {
    // GIVEN rules that fit one stage each but not together (two stages of about 2.5 KB of messages)
    const file = writeExampleVariant((doc) => {
      const stages = doc.stages as Record<string, Record<string, unknown>>;
      const rules = (prefix: string) => ({ protect: [0, 1, 2, 3, 4].map((i) => ({ id: `${prefix}-${i}`, types: ['aws_db_instance'], message: 'x'.repeat(480) })) });
      stages.prod!.policies = rules('a');
      stages.stage!.policies = rules('b');
      doc.policyOwners = ['dana@example.com'];
      doc.fleet = {
        organizations: { id: 'o-a1b2c3d4e5', roleArn: `arn:aws:iam::${ADMIN}:role/tfstep-organizations-read` },
        ous: [{ id: PROD_OU, stage: 'prod', region: 'eu-west-1', network: NETWORK }],
        stackSet: { account: ADMIN },
      };
    });
    // THEN building the app fails before anything deploys
    expect(() => buildExampleApp({}, file)).toThrow(UndeployableConfigError);
    expect(() => buildExampleApp({}, file)).toThrow(/runner policy of the fleet's StackSet accounts of stage ALL \(every stage's rules\): \d+ bytes, over the 4096 bytes of an SSM parameter \(Standard tier\)/);
  });

  it(
    'passes cdk-nag and CDK CloudFormation validation, the StackSet template included',
    () => {
      const { app } = buildExampleApp({ validate: true }, fleetVariant());
      expect(() => app.synth({ force: true })).not.toThrow();
      // The template's own synth writes its own report: the validators ran on it too.
      for (const dir of [app.outdir, join(app.outdir, 'fleet-stackset-template')]) {
        const report = JSON.parse(readFileSync(join(dir, 'validation-report.json'), 'utf8')) as ReportFile;
        expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
      }
    },
    240_000,
  );

  it('fails when an OU rule has no OU id, since a StackSet targets OUs by id', () => {
    const file = fleetVariant((fleet) => delete fleet.ous[1].id);
    expect(() => buildExampleApp({}, file)).toThrow(UndeployableConfigError);
    expect(() => buildExampleApp({}, file)).toThrow('fleet.ous[1].id: the OU id of /workloads/dev: a StackSet targets OUs by id');
  });
});

describe('central stack with a fleet', () => {
  afterAll(removeTempDirs);

  it('refreshes the fleet on a schedule through the pipeline function, which may assume the Organizations role', () => {
    // GIVEN the fleet variant (refreshMinutes defaults to 60) WHEN built
    const built = buildExampleApp({}, fleetVariant((fleet) => (fleet.organizations.refreshMinutes = 30)));
    const template = Template.fromStack(built.central);
    const fnId = built.central.getLogicalId(built.central.pipelineFunction.function.node.defaultChild as never);
    // THEN a rule sends the refresh action to the pipeline function every 30 minutes
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, Input: JSON.stringify({ action: 'fleet-refresh' }), RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 1800 } })],
    });
    // AND the function may assume the Organizations role and nothing else in the management account
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => statementsOf(render(p.Properties.PolicyDocument)));
    expect(policies.filter((st) => st.Sid === 'ReadOrganizations')).toEqual([expect.objectContaining({ Action: ['sts:AssumeRole'], Resource: [`arn:aws:iam::${ADMIN}:role/tfstep-organizations-read`] })]);
  });

  it("lets the state machine assume any launcher role of the organization's accounts, and their runners write only their own artifacts prefix", () => {
    const built = buildExampleApp({}, fleetVariant());
    const template = Template.fromStack(built.central);
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p) => statementsOf(render(p.Properties.PolicyDocument)));
    expect(statements.filter((st) => st.Sid === 'AssumeFleetLauncherRoles')).toEqual([
      expect.objectContaining({ Action: ['sts:AssumeRole'], Resource: [`arn:aws:iam::*:role/${names.launcherRole('us-east-1')}`], Condition: { StringEquals: { 'aws:ResourceOrgID': 'o-a1b2c3d4e5' } } }),
    ]);
    const bucketPolicy = Object.values(template.findResources('AWS::S3::BucketPolicy')).flatMap((p) => statementsOf(render(p.Properties.PolicyDocument)));
    const fleet = bucketPolicy.filter((st) => st.Sid === 'FleetRunnerArtifacts');
    expect(fleet).toHaveLength(1);
    expect(fleet[0]!.Resource).toEqual([expect.stringMatching(/\/accounts\/acct-\$\{aws:PrincipalAccount\}\/\*$/)]);
    expect(fleet[0]!.Condition).toEqual({
      StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' },
      ArnLike: { 'aws:PrincipalArn': [`arn:aws:iam::*:role/${names.planRole('us-east-1')}`, `arn:aws:iam::*:role/${names.applyRole('us-east-1')}`] },
    });
  });

  it('adds nothing for a config without a fleet', () => {
    const template = Template.fromStack(buildExampleApp().central);
    expect(Object.values(template.findResources('AWS::Events::Rule')).filter((r) => r.Properties.ScheduleExpression !== undefined)).toEqual([]);
  });
});
