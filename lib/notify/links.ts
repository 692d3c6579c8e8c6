/** Links the notifications, the CLI and the GitHub commit statuses point at. */

/** The AWS console domain of a region in its partition. */
function consoleHost(partition: string, region: string): string {
  if (partition === 'aws-cn') return 'console.amazonaws.cn';
  if (partition === 'aws-us-gov') return `${region}.console.amazonaws-us-gov.com`;
  return `${region}.console.aws.amazon.com`;
}

/** The Step Functions console page of one execution; the partition and region are the ARN's own. */
export function executionConsoleUrl(executionArn: string): string {
  const [, partition = 'aws', , region = 'us-east-1'] = executionArn.split(':');
  return `https://${consoleHost(partition, region)}/states/home?region=${region}#/v2/executions/details/${executionArn}`;
}

/** The execution ARN of a state machine's execution. */
export function executionArnOf(stateMachineArn: string, executionName: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
}
