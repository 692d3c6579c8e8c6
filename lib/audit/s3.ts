/**
 * The audit trail in AWS: one object per record in the central account's audit bucket, which
 * has S3 Object Lock in compliance mode with a default retention. In compliance mode no user,
 * the account's root user included, can overwrite or delete a locked object version, shorten
 * its retention or change its mode until the retention ends ("Locking objects with Object
 * Lock", https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html). Object Lock
 * protects versions, not keys, so a second PUT on a key would add a new current version
 * while the old one stays locked; every key here is new (time + id) and each PUT also carries
 * `If-None-Match: *`, which S3 refuses with 412 when the key exists ("How to prevent object
 * overwrites with conditional writes",
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html).
 *
 * Records whose id and time come from what they record (an account's apply: see
 * lib/pipeline/record-account.ts) have the same key when a step is retried: a 412 whose existing
 * object is the same record is that retry, and counts as appended, so the trail has it once.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mapLimit } from '../domain/concurrency';
import { AUDIT_PREFIX, AuditRecordSchema, auditKey, auditStartAfter, filterAudit, type AuditQuery, type AuditReader, type AuditRecord, type AuditWriter } from '../domain/audit';
import { AuditReadError, AuditWriteError } from './errors';

/** Objects read at once by {@link S3AuditLog.list}. */
const READ_CONCURRENCY = 16;

/** Appends to and reads the audit bucket. */
export class S3AuditLog implements AuditWriter, AuditReader {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  /** {@inheritDoc AuditWriter.append} */
  async append(record: AuditRecord): Promise<void> {
    const valid = AuditRecordSchema.parse(record);
    const key = auditKey(valid);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: `${JSON.stringify(valid)}\n`,
          ContentType: 'application/json',
          IfNoneMatch: '*',
          // Object Lock buckets take only uploads with an integrity checksum.
          ChecksumAlgorithm: 'SHA256',
        }),
      );
    } catch (e) {
      if ((e as Error).name === 'PreconditionFailed' && (await this.holds(key, valid))) return;
      throw new AuditWriteError(`cannot append audit record ${key} to bucket ${this.bucket}: ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Whether the object at `key` is `record` already (a retried append). */
  private async holds(key: string, record: AuditRecord): Promise<boolean> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const text = await out.Body?.transformToString('utf8');
      return text !== undefined && text.trim() === JSON.stringify(record);
    } catch {
      return false;
    }
  }

  /** {@inheritDoc AuditReader.list} */
  async list(query: AuditQuery): Promise<AuditRecord[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: AUDIT_PREFIX,
          // Keys start with the record's time, so the listing starts at --since.
          ...(token ? { ContinuationToken: token } : query.since ? { StartAfter: auditStartAfter(query.since) } : {}),
        }),
      );
      for (const o of page.Contents ?? []) if (o.Key?.endsWith('.json')) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const records = await mapLimit(keys, READ_CONCURRENCY, async (key) => {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const text = (await out.Body?.transformToString('utf8')) ?? '';
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new AuditReadError(`s3://${this.bucket}/${key} is not JSON; expected one audit record`);
      }
      const parsed = AuditRecordSchema.safeParse(json);
      if (!parsed.success) throw new AuditReadError(`s3://${this.bucket}/${key} is not an audit record: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      return parsed.data;
    });
    return filterAudit(records, query);
  }
}
