/** Links the notifications, the CLI and the GitHub commit statuses point at. */

/** The AWS console domain of a partition's region. */
function consoleHost(region: string): string {
  if (region.startsWith('cn-')) return 'console.amazonaws.cn';
  if (region.startsWith('us-gov-')) return `${region}.console.amazonaws-us-gov.com`;
  return `${region}.console.aws.amazon.com`;
}

/** The Step Functions console page of one execution. */
export function executionConsoleUrl(executionArn: string): string {
  const region = executionArn.split(':')[3] ?? 'us-east-1';
  return `https://${consoleHost(region)}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** The execution ARN of a state machine's execution. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}

/**
 * The execution name of an execution name or ARN (`arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>`),
 * so that every command takes either form. Anything else is returned unchanged.
 */
export function executionNameOf(nameOrArn: string): string {
  const m = /^arn:[a-z-]+:states:[a-z0-9-]+:\d{12}:execution:[^:]+:([^:]+)$/.exec(nameOrArn);
  return m ? m[1]! : nameOrArn;
}
