import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { APPLY_RECORD_ID_PREFIX, AUDIT_PREFIX } from '../domain/audit';
import { InvalidPropsError } from './errors';

/** Props of {@link AuditBucket}. */
export interface AuditBucketProps {
  readonly bucketName: string;
  /**
   * Days each record stays locked in compliance mode. Object Lock takes whole days or years,
   * and a compliance-mode retention cannot be shortened for objects already written.
   */
  readonly retentionDays: number;
  /** Where the bucket's server access logs go (prefix `audit/`). */
  readonly accessLogs: s3.IBucket;
}

/**
 * The audit trail's bucket: one object per record under `records/`. S3 Object Lock in
 * compliance mode with a default retention locks every object version as it is written: until
 * the retention ends, no user (the account's root user included) can overwrite or delete it,
 * change its mode or shorten its retention ("Locking objects with Object Lock",
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html). Object Lock needs
 * versioning, which CDK turns on with it; writers get s3:PutObject on `records/*` only.
 */
export class AuditBucket extends Construct {
  readonly bucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: AuditBucketProps) {
    super(scope, id);
    const days = props.retentionDays;
    if (!Number.isInteger(days) || days < 1) throw new InvalidPropsError(this.node.path, [`retentionDays ${days} is not a whole number of days of at least 1`]);

    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: true,
      objectLockEnabled: true,
      objectLockDefaultRetention: s3.ObjectLockRetention.compliance(Duration.days(days)),
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogs,
      serverAccessLogsPrefix: 'audit/',
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) }],
    });
    // Records are written with a fresh key each; nothing of tfstep ever deletes one, and the
    // policy says so for every principal (the lock itself holds even against this account's root).
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyDeletingAuditRecords',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:PutObjectRetention', 's3:PutObjectLegalHold', 's3:BypassGovernanceRetention'],
        resources: [this.bucket.arnForObjects('*')],
      }),
    );
  }

  /** The ARN pattern of the records, as granted to writers. */
  recordsArn(): string {
    return this.bucket.arnForObjects(`${AUDIT_PREFIX}*`);
  }

  /** The ARN pattern of the account applies' records, whose keys come from what they record. */
  applyRecordsArn(): string {
    return this.bucket.arnForObjects(`${AUDIT_PREFIX}*_${APPLY_RECORD_ID_PREFIX}*`);
  }

  /**
   * Lets `role` read back the account applies' records: a retried record step finds its key
   * taken (412) and compares what is there with what it would write (lib/audit/s3.ts).
   */
  grantConfirmApplies(role: iam.IGrantable): void {
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'ConfirmAuditApplyRecords', actions: ['s3:GetObject'], resources: [this.applyRecordsArn()] }));
  }

  /** Lets `role` append records: s3:PutObject on the records only, no read, no delete. */
  grantAppend(role: iam.IGrantable): void {
    role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'AppendAuditRecords', actions: ['s3:PutObject'], resources: [this.recordsArn()] }));
  }
}
