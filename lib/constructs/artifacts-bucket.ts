import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { artifactKeys } from '../domain/runner-contract';
import { InvalidPropsError } from './errors';

/** One target account's writers of the artifacts bucket. */
export interface ArtifactsWriter {
  /** The account name: its prefix is `accounts/<account>/`. */
  readonly accountName: string;
  readonly accountId: string;
  /** ARNs of the account's plan and apply task roles. */
  readonly roleArns: readonly string[];
}

/** Props of {@link ArtifactsBucket}. */
export interface ArtifactsBucketProps {
  readonly bucketName: string;
  /** Every target account; each may read and write only under its own prefix. */
  readonly writers: readonly ArtifactsWriter[];
  /** @default - 30 days */
  readonly noncurrentVersionExpirationDays?: number;
  /** @default - 365 days */
  readonly accessLogExpirationDays?: number;
}

/**
 * The artifacts bucket (saved plans, their JSON, summaries, results and logs) and the bucket
 * its server access logs go to. Saved plans decide what prod applies, so the bucket is
 * versioned, TLS-only, owner-enforced and never public.
 */
export class ArtifactsBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: ArtifactsBucketProps) {
    super(scope, id);
    const problems = props.writers
      .filter((w) => !/^[a-z][a-z0-9-]*$/.test(w.accountName))
      .map((w) => `account name ${JSON.stringify(w.accountName)} is not usable as a key segment; expected lower-case letters, digits and "-"`);
    if (problems.length > 0) throw new InvalidPropsError(this.node.path, problems);

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(props.accessLogExpirationDays ?? 365) }],
    });
    Validations.of(this.accessLogs).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket of the artifacts bucket; logging it into itself would loop.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      // SSE-S3 rather than KMS: runner roles in other accounts write here, and a KMS key would
      // need a cross-account key policy naming roles that may not exist yet.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: 'artifacts/',
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [
        {
          id: 'expire-old-versions',
          noncurrentVersionExpiration: Duration.days(props.noncurrentVersionExpirationDays ?? 30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });

    for (const writer of props.writers) {
      // Principal is the account and the role is a condition: S3 rejects a policy naming a role
      // that does not exist yet, and the account stacks deploy after this one.
      this.bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          // Names are lower-case, so mapping "-" to "X" keeps the Sid unique.
          sid: `RunnerArtifacts${writer.accountName.replace(/-/g, 'X')}`,
          principals: [new iam.AccountPrincipal(writer.accountId)],
          actions: ['s3:GetObject', 's3:PutObject'],
          resources: [this.bucket.arnForObjects(`${artifactKeys.accountPrefix(writer.accountName)}*`)],
          conditions: { ArnEquals: { 'aws:PrincipalArn': [...writer.roleArns] } },
        }),
      );
    }
  }
}
