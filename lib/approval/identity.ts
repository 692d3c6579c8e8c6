import { TfstepError } from '../config/errors';

/** Who the caller is, read from an STS GetCallerIdentity ARN. */
export interface CallerIdentity {
  readonly arn: string;
  /** The assumed role's session name, or the IAM user's name. */
  readonly name: string;
  readonly kind: 'assumed-role' | 'user' | 'other';
}

/** Reads the person's name from a caller ARN: the session name of an assumed role, the user name of an IAM user. */
export function parseCallerArn(arn: string): CallerIdentity {
  const resource = arn.split(':').slice(5).join(':');
  const assumed = /^assumed-role\/[^/]+\/(.+)$/.exec(resource);
  if (assumed?.[1]) return { arn, name: assumed[1], kind: 'assumed-role' };
  const user = /^user\/(?:.*\/)?([^/]+)$/.exec(resource);
  if (user?.[1]) return { arn, name: user[1], kind: 'user' };
  return { arn, name: resource, kind: 'other' };
}

/**
 * The configured approver the caller is: the session or user name equals an approver's
 * address or its local part, ignoring case (an SSO session is usually named after the
 * address). Throws, naming the identity and the allowed approvers, when none matches.
 */
export function approverForCaller(identity: CallerIdentity, approvers: readonly string[]): string {
  const name = identity.name.trim().toLowerCase();
  const match = approvers.find((a) => {
    const email = a.toLowerCase();
    return email === name || email.split('@')[0] === name;
  });
  if (!match) {
    throw new TfstepError(
      `${identity.arn} (name "${identity.name}") is not an approver of this stage; its session or user name must equal one of ${approvers.join(', ')} or the part before the @`,
    );
  }
  return match;
}
