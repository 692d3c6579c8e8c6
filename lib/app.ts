/**
 * The CDK app: load and validate the config, create the central stack and one stack per
 * target account, and attach cdk-nag and CDK's own template validation.
 */
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { TfstepError } from './config/errors';
import { formatPath, loadConfig } from './config/loader';
import { deploymentProblems, type Config } from './config/schema';
import { names } from './domain/names';
import { AccountStack } from './stacks/account-stack';
import { CentralStack, type CentralFunctionEntries } from './stacks/central-stack';
import { FleetStackSetStack } from './stacks/fleet-stackset-stack';
import { UndeployableConfigError } from './constructs/errors';

/** The context key naming the config file (cdk.json sets it; `-c tfstep:config=...` overrides). */
export const CONFIG_CONTEXT_KEY = 'tfstep:config';

/** Options of {@link buildApp} beyond the config file and output directory. */
export interface BuildAppOptions {
  /** @default - the handler files under lambdas/ */
  readonly functionEntries?: CentralFunctionEntries;
  /**
   * Skip bundling the functions (tests that only read templates).
   * @default false
   */
  readonly skipBundling?: boolean;
  /**
   * Run cdk-nag and CDK's CloudFormation validation at synth. Template-only tests turn it off
   * for speed; the app tests and every `cdk synth` keep it on.
   * @default true
   */
  readonly validate?: boolean;
}

/** The central stack and the account stacks of one app. */
export interface TfstepApp {
  readonly app: App;
  readonly config: Config;
  readonly central: CentralStack;
  /** Account stacks by account name. */
  readonly accounts: ReadonlyMap<string, AccountStack>;
  /** The fleet's StackSet and its template stack, when `fleet.stackSet` is set. */
  readonly fleet?: { readonly stackSet: FleetStackSetStack; readonly template: AccountStack };
}

/**
 * Builds the app with every stack. Template validation runs at synth: CDK's built-in
 * CloudFormation rules (as errors) and cdk-nag's AWS Solutions pack.
 *
 * @param configFile the config to deploy; when omitted, the `tfstep:config` context value
 * @param outdir the cloud assembly directory; when omitted, CDK's default (the CLI's `cdk.out`)
 */
export function buildApp(configFile?: string, outdir?: string, options: BuildAppOptions = {}): TfstepApp {
  const validate = options.validate ?? true;
  const newApp = (dir: string | undefined) =>
    new App({
      outdir: dir,
      builtinCloudFormationValidation: validate,
      context: {
        // Findings of CDK's default CloudFormation rules fail the synth instead of being warnings.
        '@aws-cdk/core:validateAgainstDefaultRules': true,
        // Access logs are delivered under a bucket policy, so the log bucket can stay owner-enforced.
        '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
        ...(options.skipBundling ? { 'aws:cdk:bundling-stacks': [] } : {}),
      },
    });
  const app = newApp(outdir);
  const file = configFile ?? (app.node.tryGetContext(CONFIG_CONTEXT_KEY) as unknown);
  if (typeof file !== 'string' || file.trim() === '') {
    throw new TfstepError(`no config file: expected a path in the "${CONFIG_CONTEXT_KEY}" context value (cdk.json or -c ${CONFIG_CONTEXT_KEY}=path/to/tfstep.yaml)`);
  }
  const config = loadConfig(file);
  const undeployable = deploymentProblems(config);
  if (undeployable.length > 0) {
    throw new UndeployableConfigError(undeployable.map((p) => `${formatPath(p.path)}: ${p.message}`).join('\n'));
  }

  const central = new CentralStack(app, names.centralStack(), { config, functionEntries: options.functionEntries });
  const accounts = new Map<string, AccountStack>();
  for (const account of config.accounts) {
    accounts.set(account.name, new AccountStack(app, names.accountStack(account.name), { config, account }));
  }
  if (validate) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, config, central, accounts, ...(config.fleet?.stackSet ? { fleet: fleetStackSet(app, config, newApp, validate) } : {}) };
}

/**
 * The fleet's StackSet. Its template is the account stack rendered for any account of the fleet,
 * synthesized in an app of its own with the same cdk-nag and CloudFormation validation as every
 * account stack, then handed to the StackSet as its body.
 */
function fleetStackSet(app: App, config: Config, newApp: (dir: string) => App, validate: boolean): { stackSet: FleetStackSetStack; template: AccountStack } {
  const templateApp = newApp(join(app.outdir, 'fleet-stackset-template'));
  // Its stage only fills the field: each instance's plan policies follow the TfstepStage parameter.
  const account = { name: 'fleet', id: '000000000000', region: config.central.region, stage: config.stageOrder[0]! };
  const template = new AccountStack(templateApp, names.fleetStackSet(), { config, account, stackSetTemplate: true });
  if (validate) Validations.of(templateApp).addPlugins(new AwsSolutionsChecks(templateApp));
  const body = JSON.stringify(templateApp.synth().getStackByName(template.stackName).template);
  return { stackSet: new FleetStackSetStack(app, names.fleetStackSetStack(), { config, templateBody: body }), template };
}
