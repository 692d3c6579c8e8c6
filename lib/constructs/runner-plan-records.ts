import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** Item writes the plan role alone may make on the plan records table. */
export const PLAN_RECORD_WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:BatchWriteItem', 'dynamodb:PartiQLInsert', 'dynamodb:PartiQLUpdate'] as const;

/** Changes to the table itself that would let someone else write records (or drop the table's guard). */
export const PLAN_RECORD_TABLE_ACTIONS = ['dynamodb:DeleteTable', 'dynamodb:UpdateTable', 'dynamodb:PutResourcePolicy', 'dynamodb:DeleteResourcePolicy', 'dynamodb:RestoreTableToPointInTime'] as const;

/** Props of {@link RunnerPlanRecords}. */
export interface RunnerPlanRecordsProps {
  /** The table's name, derived from the config on both sides (the runner policy names it). */
  readonly tableName: string;
  /** The plan task's role: the only principal that may write a record. */
  readonly planRole: iam.IRole;
  /** The apply task's role: reads a record before applying a saved plan. */
  readonly applyRole: iam.IRole;
}

/**
 * The account's own record of the plans its plan task made: one item per execution and module
 * with the commit and the plan file's SHA-256. The apply task applies a saved plan only when it
 * finds it here, so a plan the central account substituted (its bucket, its task input) is never
 * applied. Only the plan role may write: its identity policy allows `dynamodb:PutItem` alone, the
 * table's resource policy denies item writes to every other principal (an explicit deny wins over
 * any allow, AdministratorAccess included), and the apply role may only read. The central account
 * has no principal here that could write at all.
 *
 * Resource-based policies for DynamoDB:
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/access-control-resource-based.html
 */
export class RunnerPlanRecords extends Construct {
  readonly table: dynamodb.Table;
  /** The table's ARN, built from its name (the guard on the apply role names it). */
  readonly tableArn: string;

  constructor(scope: Construct, id: string, props: RunnerPlanRecordsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.table = new dynamodb.Table(this, 'Table', {
      tableName: props.tableName,
      partitionKey: { name: 'execution', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'module', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // Records outlive any run that could still apply them: execution names are unique for 90 days.
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: RemovalPolicy.RETAIN,
      resourcePolicy: new iam.PolicyDocument({
        statements: [
          new iam.PolicyStatement({
            sid: 'OnlyThePlanRoleRecordsPlans',
            effect: iam.Effect.DENY,
            principals: [new iam.AnyPrincipal()],
            actions: [...PLAN_RECORD_WRITE_ACTIONS],
            // The table's own ARN cannot be named in its own policy at creation (a cycle): `*` is this table.
            resources: ['*'],
            conditions: { ArnNotEquals: { 'aws:PrincipalArn': props.planRole.roleArn } },
          }),
        ],
      }),
    });
    const tableArn = stack.formatArn({ service: 'dynamodb', resource: 'table', resourceName: props.tableName });
    this.tableArn = tableArn;
    props.planRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'RecordOwnPlans', actions: ['dynamodb:PutItem'], resources: [tableArn] }));
    props.applyRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ReadPlanRecords', actions: ['dynamodb:GetItem'], resources: [tableArn] }));
  }

}
