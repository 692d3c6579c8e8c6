import { Stack, type StackProps, aws_cloudformation as cloudformation } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Config } from '../config/schema';
import { names } from '../domain/names';
import { UndeployableConfigError } from '../constructs/errors';
import { FLEET_ALL_STAGES } from '../domain/runner-policy';
import { FLEET_STAGE_PARAMETER, TERRAFORM_REGION_PARAMETER } from './account-stack';

/** The most a StackSet's inline template body may hold. */
export const STACKSET_TEMPLATE_BODY_BYTES = 51_200;

/** Props of {@link FleetStackSetStack}. */
export interface FleetStackSetStackProps extends StackProps {
  /** A config with `fleet.stackSet`. */
  readonly config: Config;
  /** The fleet's account stack template ({@link AccountStack} with `stackSetTemplate`), as JSON. */
  readonly templateBody: string;
}

/**
 * The fleet's account stacks as one service-managed StackSet, created in the management account
 * or a delegated administrator (`fleet.stackSet.account`). It targets the OUs of the fleet's OU
 * rules (and `extraOrganizationalUnitIds`), in the central region, and deploys to every account
 * that joins them (automatic deployment). Each OU rule's region and stage reach the template as
 * the `TerraformRegion` and `TfstepStage` parameters, so the runner of an account in a prod OU
 * enforces prod's plan policies. The OUs of `extraOrganizationalUnitIds` hold accounts whose stage
 * a tag rule decides later, which the StackSet cannot know: they get the stage `ALL`, every
 * stage's rules together, so such an account is held to the strictest rules rather than the
 * weakest. Accounts listed under `accounts:` keep their own stacks.
 *
 * Parameter overrides reach only the accounts in the OUs when the instances are created or
 * updated: "Accounts added to the target OUs and their child OUs in the future will use the
 * StackSet default values and not the overridden values" ("Enable or disable automatic
 * deployments for StackSets in AWS Organizations"). The StackSet sets no values of its own, so a
 * later account gets the template's defaults: `ALL` for the stage, the strictest again.
 *
 * Service-managed permissions need trusted access between StackSets and Organizations, and a
 * delegated administrator's calls need `CallAs: DELEGATED_ADMIN`
 * (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-delegated-admin.html).
 */
export class FleetStackSetStack extends Stack {
  readonly stackSet: cloudformation.CfnStackSet;

  constructor(scope: Construct, id: string, props: FleetStackSetStackProps) {
    const { config } = props;
    const fleet = config.fleet;
    const target = fleet?.stackSet;
    if (!fleet || !target) throw new Error('FleetStackSetStack needs a config with fleet.stackSet');
    super(scope, id, {
      ...props,
      env: { account: target.account, region: config.central.region },
      description: `tfstep: the runner stack of every account in the fleet's OUs, driven from ${config.central.account}/${config.central.region}`,
    });

    // "TemplateBody: Minimum length of 1. Maximum length of 51,200" (AWS::CloudFormation::StackSet).
    const bytes = Buffer.byteLength(props.templateBody, 'utf8');
    if (bytes > STACKSET_TEMPLATE_BODY_BYTES) {
      throw new UndeployableConfigError(`the fleet's account stack template is ${bytes} bytes; a StackSet takes at most ${STACKSET_TEMPLATE_BODY_BYTES} inline`);
    }

    // One instances group per (region, stage) of the OU rules, each with both as parameter overrides.
    const groupsByKey = new Map<string, { region: string; stage: string; ous: string[] }>();
    for (const rule of fleet.ous) {
      if (rule.id === undefined) continue; // refused by deploymentProblems
      const key = JSON.stringify([rule.region, rule.stage]);
      const group = groupsByKey.get(key) ?? { region: rule.region, stage: rule.stage, ous: [] };
      group.ous.push(rule.id);
      groupsByKey.set(key, group);
    }
    const groups: cloudformation.CfnStackSet.StackInstancesProperty[] = [...groupsByKey.values()].map(({ region, stage, ous }) => ({
      deploymentTargets: { organizationalUnitIds: ous },
      regions: [config.central.region],
      parameterOverrides: [
        { parameterKey: TERRAFORM_REGION_PARAMETER, parameterValue: region },
        { parameterKey: FLEET_STAGE_PARAMETER, parameterValue: stage },
      ],
    }));
    // The OUs added for tag rules take the template's default region, and every stage's rules.
    if (target.extraOrganizationalUnitIds.length > 0) {
      groups.push({
        deploymentTargets: { organizationalUnitIds: [...target.extraOrganizationalUnitIds] },
        regions: [config.central.region],
        parameterOverrides: [{ parameterKey: FLEET_STAGE_PARAMETER, parameterValue: FLEET_ALL_STAGES }],
      });
    }

    this.stackSet = new cloudformation.CfnStackSet(this, 'AccountStacks', {
      stackSetName: names.fleetStackSet(),
      description: 'tfstep runner: cluster, task definitions, plan/apply/launcher roles, runner policy, plan records',
      permissionModel: 'SERVICE_MANAGED',
      callAs: target.callAs,
      // New accounts in the OUs get the stack; an account that leaves keeps it (its runner roles
      // and plan records), and the fleet registry stops deploying there.
      autoDeployment: { enabled: true, retainStacksOnAccountRemoval: true },
      // The template creates named IAM roles (the central side finds them by name).
      capabilities: ['CAPABILITY_NAMED_IAM'],
      managedExecution: { Active: true },
      operationPreferences: {
        maxConcurrentPercentage: target.maxConcurrentPercentage,
        failureTolerancePercentage: target.failureTolerancePercentage,
        regionConcurrencyType: 'PARALLEL',
      },
      templateBody: props.templateBody,
      stackInstancesGroup: groups,
    });
  }
}
