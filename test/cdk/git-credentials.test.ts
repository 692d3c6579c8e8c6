/** Private repositories in the stacks: the runner's secret in each account, the reader's in the central account. */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { CENTRAL_FUNCTION_ENV } from '../../lib/stacks/central-stack';
import { names } from '../../lib/domain/names';
import { RUNNER_POLICY_PARAMETER, RunnerPolicySchema } from '../../lib/domain/runner-contract';
import { buildExampleApp, removeTempDirs, statementsOf, writeExampleVariant, type Statement } from './support';

const REGION = 'us-east-1';

function statementsOfRole(template: Template, roleName: string): Statement[] {
  const [roleId] = Object.keys(template.findResources('AWS::IAM::Role', { Properties: { RoleName: roleName } }));
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap((p) => statementsOf(p.Properties.PolicyDocument));
}

describe('GIVEN git.accountSecretName and git.centralSecret in the config', () => {
  let account: Template;
  let central: Template;
  let secretId: string;
  beforeAll(() => {
    const file = writeExampleVariant((doc) => {
      doc.git = { accountSecretName: 'tfstep/git-credentials', centralSecret: 'tfstep/git-reader' };
    });
    const app = buildExampleApp({}, file);
    account = Template.fromStack(app.accounts.get('dev')!);
    central = Template.fromStack(app.central);
    secretId = Object.keys(account.findResources('AWS::SecretsManager::Secret'))[0] ?? '';
  });
  afterAll(removeTempDirs);

  it('WHEN an account stack is built THEN it creates the secret in that account, kept on stack deletion', () => {
    account.resourceCountIs('AWS::SecretsManager::Secret', 1);
    account.hasResource('AWS::SecretsManager::Secret', { Properties: { Name: 'tfstep/git-credentials' }, DeletionPolicy: 'Retain' });
  });

  it('WHEN the runner policy is written THEN it names the account secret, never a value', () => {
    const [param] = Object.values(account.findResources('AWS::SSM::Parameter', { Properties: { Name: RUNNER_POLICY_PARAMETER } }));
    const policy = RunnerPolicySchema.parse(JSON.parse(param!.Properties.Value as string));
    expect(policy.gitCredentialsSecret).toBe('tfstep/git-credentials');
  });

  it("WHEN the task roles are built THEN both may read the secret, and the apply role may not change it", () => {
    for (const role of [names.planRole(REGION), names.applyRole(REGION)]) {
      const reads = statementsOfRole(account, role).filter((s) => s.Effect === 'Allow' && s.Action.includes('secretsmanager:GetSecretValue'));
      expect({ role, resources: reads.flatMap((s) => s.Resource) }).toEqual({ role, resources: [`<${secretId}>`] });
    }
    const denies = statementsOfRole(account, names.applyRole(REGION)).filter((s) => s.Effect === 'Deny' && s.Resource.includes(`<${secretId}>`));
    const denied = denies.flatMap((s) => s.Action);
    for (const a of ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecret', 'secretsmanager:DeleteSecret', 'secretsmanager:PutResourcePolicy']) expect(denied).toContain(a);
  });

  it('WHEN the task definitions are built THEN the secret is not in any container definition (so never in DescribeTasks or overrides)', () => {
    for (const td of Object.values(account.findResources('AWS::ECS::TaskDefinition'))) {
      const text = JSON.stringify(td.Properties.ContainerDefinitions);
      expect(text).not.toContain(secretId);
      expect(text).not.toContain('git-credentials');
    }
  });

  it('WHEN the central stack is built THEN the pipeline function reads repositories with the central secret', () => {
    central.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('pipeline steps'),
      Environment: { Variables: Match.objectLike({ [CENTRAL_FUNCTION_ENV.gitTokenSecretArn]: 'tfstep/git-reader' }) },
    });
    central.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: Match.objectLike({ 'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('secret:tfstep/git-reader-\\?\\?\\?\\?\\?\\?$')])] }) }),
        ]),
      },
    });
  });
});

describe('GIVEN no git credentials in the config', () => {
  afterAll(removeTempDirs);

  it('WHEN an account stack is built THEN it has no secret and the policy names none', () => {
    const account = Template.fromStack(buildExampleApp().accounts.get('dev')!);
    account.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const [param] = Object.values(account.findResources('AWS::SSM::Parameter'));
    expect(RunnerPolicySchema.parse(JSON.parse(param!.Properties.Value as string)).gitCredentialsSecret).toBeUndefined();
  });
});
