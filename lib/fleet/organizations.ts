/**
 * {@link OrganizationsReader} over AWS Organizations. Every list call reads all its pages, and a
 * throttled call is retried with a capped, jittered backoff.
 *
 * Organizations answers only in the management account or a delegated administrator, so the
 * central side assumes `fleet.organizations.roleArn` there (docs/fleet.md gives its trust and
 * rights).
 */
import {
  DescribeOrganizationalUnitCommand,
  ListAccountsCommand,
  ListAccountsForParentCommand,
  ListOrganizationalUnitsForParentCommand,
  ListParentsCommand,
  ListRootsCommand,
  ListTagsForResourceCommand,
  OrganizationsClient,
  type Account,
} from '@aws-sdk/client-organizations';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { FleetError } from './errors';
import type { OrgAccountInfo, OrganizationsReader, OrgNode } from './walk';

/** How throttled calls are retried. */
export interface ThrottleRetry {
  /** Attempts per call, the first included. @default 8 */
  readonly attempts?: number;
  /** The first wait; each retry doubles it, up to 20 s, with full jitter. @default 250 */
  readonly baseMs?: number;
  /** @default - setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Math.random */
  readonly random?: () => number;
}

const THROTTLED = new Set(['TooManyRequestsException', 'ThrottlingException', 'Throttling']);

/**
 * Runs `call`, retrying while Organizations answers TooManyRequestsException. The SDK's own
 * standard retry (3 attempts) gives up too soon for a walk of thousands of accounts: the
 * Organizations request quota is shared by the whole organization ("Quotas for AWS
 * Organizations", https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html).
 */
export async function retryThrottled<T>(call: () => Promise<T>, options: ThrottleRetry = {}): Promise<T> {
  const attempts = options.attempts ?? 8;
  const base = options.baseMs ?? 250;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      const name = (err as { name?: string }).name ?? '';
      if (!THROTTLED.has(name) || attempt >= attempts) {
        if (THROTTLED.has(name)) throw new FleetError(`AWS Organizations kept throttling after ${attempts} attempts; the next refresh tries again`, { cause: err });
        throw err;
      }
      await sleep(Math.floor(random() * Math.min(20_000, base * 2 ** (attempt - 1))));
    }
  }
}

/**
 * Reads every page of a list call. "Always check the NextToken response parameter for a null
 * value when calling a List* operation. These operations can occasionally return an empty set of
 * results even when there are more results available" (Organizations API reference,
 * ListAccountsForParent): an empty page is not the end, only a missing token is.
 */
async function allPages<T>(page: (token: string | undefined) => Promise<{ items: T[]; next?: string }>): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const res = await page(token);
    out.push(...res.items);
    token = res.next;
  } while (token);
  return out;
}

function accountInfo(a: Account): OrgAccountInfo {
  if (!a.Id) throw new FleetError('AWS Organizations listed an account without an id');
  // `State` replaces `Status` (retired September 2026); read either.
  return { id: a.Id, name: a.Name ?? a.Id, state: a.State ?? a.Status ?? 'UNKNOWN' };
}

/** An {@link OrganizationsReader} over an SDK client. */
export function awsOrganizationsReader(client: OrganizationsClient, retry: ThrottleRetry = {}): OrganizationsReader {
  const send = <T>(fn: () => Promise<T>) => retryThrottled(fn, retry);
  return {
    async listRoots() {
      return allPages(async (NextToken) => {
        const res = await send(() => client.send(new ListRootsCommand({ NextToken })));
        return { items: (res.Roots ?? []).map((r): OrgNode => ({ id: r.Id!, name: r.Name ?? 'Root' })), next: res.NextToken };
      });
    },
    async listOrganizationalUnits(ParentId) {
      return allPages(async (NextToken) => {
        const res = await send(() => client.send(new ListOrganizationalUnitsForParentCommand({ ParentId, NextToken })));
        return { items: (res.OrganizationalUnits ?? []).map((o): OrgNode => ({ id: o.Id!, name: o.Name ?? o.Id! })), next: res.NextToken };
      });
    },
    async listAccountsForParent(ParentId) {
      return allPages(async (NextToken) => {
        const res = await send(() => client.send(new ListAccountsForParentCommand({ ParentId, NextToken })));
        return { items: (res.Accounts ?? []).map(accountInfo), next: res.NextToken };
      });
    },
    async listAccounts() {
      return allPages(async (NextToken) => {
        const res = await send(() => client.send(new ListAccountsCommand({ NextToken })));
        return { items: (res.Accounts ?? []).map(accountInfo), next: res.NextToken };
      });
    },
    async parentOf(ChildId) {
      const res = await send(() => client.send(new ListParentsCommand({ ChildId })));
      const parent = res.Parents?.[0]?.Id;
      if (!parent) throw new FleetError(`AWS Organizations names no parent of ${ChildId}`);
      return parent;
    },
    async describeOrganizationalUnit(OrganizationalUnitId) {
      const res = await send(() => client.send(new DescribeOrganizationalUnitCommand({ OrganizationalUnitId })));
      return { id: OrganizationalUnitId, name: res.OrganizationalUnit?.Name ?? OrganizationalUnitId };
    },
    async listTags(ResourceId) {
      const tags = await allPages(async (NextToken) => {
        const res = await send(() => client.send(new ListTagsForResourceCommand({ ResourceId, NextToken })));
        return { items: res.Tags ?? [], next: res.NextToken };
      });
      return Object.fromEntries(tags.map((t) => [t.Key ?? '', t.Value ?? '']));
    },
  };
}

/** The region of the Organizations endpoint of the central region's partition. */
export function organizationsRegion(centralRegion: string): string {
  if (centralRegion.startsWith('us-gov-')) return 'us-gov-west-1';
  if (centralRegion.startsWith('cn-')) return 'cn-northwest-1';
  return 'us-east-1';
}

/**
 * An Organizations client on the credentials of `roleArn` (assumed with STS from the caller's own
 * credentials, renewed by the SDK before they expire).
 */
export function organizationsClientFor(roleArn: string, centralRegion: string, sts: STSClient = new STSClient({ region: centralRegion })): OrganizationsClient {
  return new OrganizationsClient({
    region: organizationsRegion(centralRegion),
    credentials: async () => {
      const res = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'tfstep-fleet-refresh', DurationSeconds: 3600 }));
      const c = res.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new FleetError(`assuming ${roleArn} returned no credentials`);
      return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration };
    },
  });
}
