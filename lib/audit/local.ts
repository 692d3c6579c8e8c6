/**
 * The local mode's audit trail: one JSON line per record in `audit.jsonl` of the state
 * directory. Lines are only ever appended (the file is opened with O_APPEND, so two processes
 * appending at once each add whole lines of at most a few kilobytes). An account apply's record
 * already in the file is not appended again.
 */
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { APPLY_RECORD_ID_PREFIX, AuditRecordSchema, filterAudit, type AuditQuery, type AuditReader, type AuditRecord, type AuditWriter } from '../domain/audit';
import { AuditReadError, AuditWriteError } from './errors';

/** The audit file's name in a state directory. */
export const LOCAL_AUDIT_FILE = 'audit.jsonl';

/** The audit file of a state directory. */
export function localAuditFile(stateDir: string): string {
  return path.join(stateDir, LOCAL_AUDIT_FILE);
}

/** Appends to and reads the JSON-lines audit file of a state directory. */
export class LocalAuditLog implements AuditWriter, AuditReader {
  readonly file: string;

  constructor(stateDir: string) {
    this.file = localAuditFile(stateDir);
  }

  /** {@inheritDoc AuditWriter.append} */
  async append(record: AuditRecord): Promise<void> {
    const line = `${JSON.stringify(AuditRecordSchema.parse(record))}\n`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      // Only a record whose id and time come from what it records (an account's apply) can be
      // appended again, by a retried step: that one is not appended twice, as in S3 (./s3.ts).
      // Every other record has a fresh id, so the file is not read for it.
      if (record.id.startsWith(APPLY_RECORD_ID_PREFIX) && (await readFile(this.file, 'utf8').catch(() => '')).includes(line)) return;
      await appendFile(this.file, line, { encoding: 'utf8', flag: 'a', mode: 0o600 });
    } catch (e) {
      throw new AuditWriteError(`cannot append to the audit file ${this.file}: ${(e as Error).message}`, { cause: e });
    }
  }

  /** {@inheritDoc AuditReader.list} */
  async list(query: AuditQuery): Promise<AuditRecord[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new AuditReadError(`cannot read the audit file ${this.file}: ${(e as Error).message}`, { cause: e });
    }
    const records: AuditRecord[] = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        throw new AuditReadError(`${this.file} line ${i + 1} is not JSON; expected one audit record per line`);
      }
      const parsed = AuditRecordSchema.safeParse(json);
      if (!parsed.success) throw new AuditReadError(`${this.file} line ${i + 1} is not an audit record: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
      records.push(parsed.data);
    });
    return filterAudit(records, query);
  }
}
