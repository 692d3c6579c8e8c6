/** Errors of the audit trail. */

/** Base class of audit errors. */
export class AuditError extends Error {
  override name = 'AuditError';
}

/** A record could not be appended: the action it records does not go ahead without it. */
export class AuditWriteError extends AuditError {
  override name = 'AuditWriteError';
}

/** A stored record is not an audit record (named by its key or line). */
export class AuditReadError extends AuditError {
  override name = 'AuditReadError';
}
