import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { AuditReadError, AuditWriteError } from '../../lib/audit/errors';
import { LocalAuditLog } from '../../lib/audit/local';
import { S3AuditLog } from '../../lib/audit/s3';
import { auditKey, auditRecord, auditStartAfter, formatAuditLine, parseSince, type AuditRecord } from '../../lib/domain/audit';

const s3Mock = mockClient(S3Client);
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
beforeEach(() => s3Mock.reset());

function stateDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'tfstep-audit-'));
  dirs.push(d);
  return d;
}

function decision(at: string, account = 'prod', who = 'alice@example.com'): AuditRecord {
  return auditRecord({
    kind: 'decision',
    at,
    who,
    channel: 'link',
    run: 'run-2f1c9e0',
    stage: 'prod',
    commit: '2f1c9e0'.padEnd(40, 'a'),
    accounts: [account],
    plans: [{ account, module: `${account}/us-east-1/app`, sha256: 'e'.repeat(64) }],
    decision: 'approve',
  });
}

/** A GetObject body as the SDK gives it (only transformToString is read). */
const body = (text: string) => ({ transformToString: () => Promise.resolve(text) }) as never;

describe('audit records', () => {
  it('keys records by time, then id, so keys list in time order and never repeat', () => {
    // GIVEN two records of the same millisecond
    const a = decision('2026-12-01T10:00:00.000Z');
    const b = decision('2026-12-01T10:00:00.000Z');
    // THEN
    expect(auditKey(a)).toMatch(/^records\/2026-12-01T10:00:00\.000Z_[0-9a-f-]{36}\.json$/);
    expect(auditKey(a)).not.toBe(auditKey(b));
    // AND --since lists from the first key of that millisecond on
    expect(auditStartAfter(new Date('2026-12-01T10:00:00.000Z')) < auditKey(a)).toBe(true);
    expect(auditStartAfter(new Date('2026-12-01T10:00:00.001Z')) > auditKey(a)).toBe(true);
  });

  it('reads --since as a date, a time or a duration back, and refuses anything else', () => {
    const now = new Date('2026-12-02T12:00:00.000Z');
    expect(parseSince('2026-11-30', now).toISOString()).toBe('2026-11-30T00:00:00.000Z');
    expect(parseSince('2026-12-01T08:30:00Z', now).toISOString()).toBe('2026-12-01T08:30:00.000Z');
    expect(parseSince('7d', now).toISOString()).toBe('2026-11-25T12:00:00.000Z');
    expect(parseSince('90m', now).toISOString()).toBe('2026-12-02T10:30:00.000Z');
    expect(() => parseSince('last week', now)).toThrow('expected a date (2026-01-31), a time (2026-01-31T12:00:00Z) or a duration back from now (30m, 12h, 7d)');
  });

  it('prints who, channel, what, run, commit and plan hashes on one line', () => {
    expect(formatAuditLine(decision('2026-12-01T10:00:00.000Z'))).toBe(
      '2026-12-01T10:00:00.000Z  alice@example.com via link approved  run-2f1c9e0, stage prod, commit 2f1c9e0aaaaa; plans prod/prod/us-east-1/app@eeeeeeeeeeee',
    );
  });
});

describe('LocalAuditLog', () => {
  it('appends one JSON line per record and reads them back filtered by time and account', async () => {
    // GIVEN
    const log = new LocalAuditLog(stateDir());
    await log.append(decision('2026-12-01T09:00:00.000Z', 'dev'));
    await log.append(decision('2026-12-01T10:00:00.000Z', 'prod'));
    await log.append(decision('2026-12-01T11:00:00.000Z', 'prod', 'bob@example.com'));
    // THEN the file holds three lines, the first never rewritten
    const lines = readFileSync(log.file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(3);
    expect((JSON.parse(lines[0]!) as AuditRecord).accounts).toEqual(['dev']);
    // AND filters apply
    expect((await log.list({})).map((r) => r.at)).toEqual(['2026-12-01T09:00:00.000Z', '2026-12-01T10:00:00.000Z', '2026-12-01T11:00:00.000Z']);
    expect((await log.list({ account: 'prod', since: new Date('2026-12-01T10:30:00.000Z') })).map((r) => r.who)).toEqual(['bob@example.com']);
  });

  it('reads an absent file as no records', async () => {
    expect(await new LocalAuditLog(stateDir()).list({})).toEqual([]);
  });

  it('fails when a line is not an audit record, naming the line', async () => {
    // GIVEN
    const log = new LocalAuditLog(stateDir());
    await log.append(decision('2026-12-01T09:00:00.000Z'));
    writeFileSync(log.file, `${readFileSync(log.file, 'utf8')}{"kind":"decision"}\n`);
    // THEN
    await expect(log.list({})).rejects.toThrow(/audit\.jsonl line 2 is not an audit record/);
  });
});

describe('S3AuditLog', () => {
  it('puts each record as a new object that must not exist yet, with a checksum Object Lock accepts', async () => {
    // GIVEN
    s3Mock.on(PutObjectCommand).resolves({});
    const record = decision('2026-12-01T10:00:00.000Z');
    // WHEN
    await new S3AuditLog(new S3Client({ region: 'us-east-1' }), 'tfstep-audit-999999999999-us-east-1').append(record);
    // THEN
    const put = s3Mock.commandCalls(PutObjectCommand)[0]!.args[0].input;
    expect(put).toMatchObject({ Bucket: 'tfstep-audit-999999999999-us-east-1', Key: auditKey(record), IfNoneMatch: '*', ChecksumAlgorithm: 'SHA256' });
    expect(JSON.parse(put.Body as string)).toEqual(record);
  });

  it('fails with an AuditWriteError when S3 refuses the record', async () => {
    // GIVEN
    s3Mock.on(PutObjectCommand).rejects(Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed' }));
    // THEN
    await expect(new S3AuditLog(new S3Client({ region: 'us-east-1' }), 'b').append(decision('2026-12-01T10:00:00.000Z'))).rejects.toBeInstanceOf(AuditWriteError);
  });

  it('counts a refused put as appended when the object there is the same record (a retried step), and not otherwise', async () => {
    // GIVEN S3 answers 412: the key exists
    const record = decision('2026-12-01T10:00:00.000Z');
    s3Mock.on(PutObjectCommand).rejects(Object.assign(new Error('At least one of the pre-conditions you specified did not hold'), { name: 'PreconditionFailed' }));
    const log = new S3AuditLog(new S3Client({ region: 'us-east-1' }), 'b');
    // WHEN the object there is the same record, THEN the append is done
    s3Mock.on(GetObjectCommand, { Key: auditKey(record) }).resolves({ Body: body(`${JSON.stringify(record)}\n`) });
    await expect(log.append(record)).resolves.toBeUndefined();
    // WHEN it is another record under that key, THEN the append fails
    s3Mock.on(GetObjectCommand, { Key: auditKey(record) }).resolves({ Body: body(JSON.stringify({ ...record, comment: 'another' })) });
    await expect(log.append(record)).rejects.toBeInstanceOf(AuditWriteError);
  });

  it('lists every page from --since on and reads each record', async () => {
    // GIVEN two pages of keys
    const records = [decision('2026-12-01T10:00:00.000Z', 'prod'), decision('2026-12-01T11:00:00.000Z', 'dev'), decision('2026-12-01T12:00:00.000Z', 'prod')];
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({ Contents: records.slice(0, 2).map((r) => ({ Key: auditKey(r) })), IsTruncated: true, NextContinuationToken: 'next' })
      .resolvesOnce({ Contents: [{ Key: auditKey(records[2]!) }], IsTruncated: false });
    for (const r of records) s3Mock.on(GetObjectCommand, { Key: auditKey(r) }).resolves({ Body: body(JSON.stringify(r)) });
    // WHEN
    const since = new Date('2026-12-01T09:00:00.000Z');
    const found = await new S3AuditLog(new S3Client({ region: 'us-east-1' }), 'b').list({ since, account: 'prod' });
    // THEN
    expect(found.map((r) => r.id)).toEqual([records[0]!.id, records[2]!.id]);
    const lists = s3Mock.commandCalls(ListObjectsV2Command).map((c) => c.args[0].input);
    expect(lists[0]).toMatchObject({ Bucket: 'b', Prefix: 'records/', StartAfter: auditStartAfter(since) });
    expect(lists[1]).toMatchObject({ ContinuationToken: 'next' });
  });

  it('fails when an object is not an audit record, naming it', async () => {
    // GIVEN
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'records/x.json' }] });
    s3Mock.on(GetObjectCommand).resolves({ Body: body('not json') });
    // THEN
    await expect(new S3AuditLog(new S3Client({ region: 'us-east-1' }), 'b').list({})).rejects.toThrow(new AuditReadError('s3://b/records/x.json is not JSON; expected one audit record'));
  });
});
