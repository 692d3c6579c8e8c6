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

/**
 * The S3 console page of one object (its overview, with Download and Open), in the console of the
 * ARN's partition and region: `https://<console host>/s3/object/<bucket>?region=<region>&bucketType=general&prefix=<key>`,
 * the form the S3 console puts in its own address bar for an object of a general purpose bucket.
 * The key is URL-encoded whole (its `/` too), as the console does.
 */
export function s3ObjectConsoleUrl(partition: string, region: string, bucket: string, key: string): string {
  return `https://${consoleHost(partition, region)}/s3/object/${encodeURIComponent(bucket)}?region=${region}&bucketType=general&prefix=${encodeURIComponent(key)}`;
}

/** The partition and region of an ARN (`arn:<partition>:<service>:<region>:...`). */
export function arnPartitionRegion(arn: string): { partition: string; region: string } {
  const [prefix, partition, , region] = arn.split(':');
  if (prefix !== 'arn' || !partition || !region) throw new TypeError(`${JSON.stringify(arn)} is not a regional ARN; expected arn:<partition>:<service>:<region>:<account>:<resource>`);
  return { partition, region };
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
