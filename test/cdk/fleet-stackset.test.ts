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

/** The example config with a fleet: two OU rules in two regions, a StackSet in a delegated administrator. */
function fleetVariant(change: (fleet: Record<string, any>) => void = () => undefined): string {
  return writeExampleVariant((doc) => {
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
        { DeploymentTargets: { OrganizationalUnitIds: [PROD_OU] }, Regions: ['us-east-1'], ParameterOverrides: [{ ParameterKey: 'TerraformRegion', ParameterValue: 'eu-west-1' }] },
        { DeploymentTargets: { OrganizationalUnitIds: [DEV_OU] }, Regions: ['us-east-1'], ParameterOverrides: [{ ParameterKey: 'TerraformRegion', ParameterValue: 'us-east-1' }] },
        { DeploymentTargets: { OrganizationalUnitIds: [SANDBOX_OU] }, Regions: ['us-east-1'], ParameterOverrides: Match.absent() },
      ],
    });
    // AND the listed accounts keep their own stacks
    expect([...built.accounts.keys()].sort()).toEqual(['dev', 'prod', 'stage']);
  });

  it("carries the account stack as its body, naming each instance's account and region from the template", () => {
    const built = buildExampleApp({}, fleetVariant());
    const body = JSON.parse(Template.fromStack(built.fleet!.stackSet).findResources('AWS::CloudFormation::StackSet').AccountStacks!.Properties.TemplateBody as string) as {
      Parameters: Record<string, { Default?: string }>;
      Rules?: unknown;
      Resources: Record<string, { Type: string; Properties: Record<string, any> }>;
    };
    // THEN it has no bootstrap parameter (a StackSet instance has no CDK bootstrap) and the region parameter
    expect(Object.keys(body.Parameters)).toEqual(['TerraformRegion']);
    expect(body.Rules).toBeUndefined();
    // AND the runner policy names the instance's own account (acct-<id>) and region
    const [param] = Object.values(body.Resources).filter((r) => r.Type === 'AWS::SSM::Parameter' && r.Properties.Name === RUNNER_POLICY_PARAMETER);
    const sub = param!.Properties.Value['Fn::Sub'] as string;
    const policy = RunnerPolicySchema.parse(JSON.parse(sub.replace('${AWS::AccountId}', '123456789012').replace('${TerraformRegion}', 'eu-west-1')));
    expect(policy.account).toBe('acct-123456789012');
    expect(policy.region).toBe('eu-west-1');
    // AND the roles keep the names the central side finds them by
    const roleNames = Object.values(body.Resources).filter((r) => r.Type === 'AWS::IAM::Role').map((r) => r.Properties.RoleName as string);
    expect(roleNames).toEqual(expect.arrayContaining([names.launcherRole('us-east-1'), names.planRole('us-east-1'), names.applyRole('us-east-1')]));
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
