/**
 * Reads what the fleet rules need from an organization into an {@link OrgSnapshot}: each OU
 * rule's OU (found by path from the root, or by id), every account in it and in its child OUs,
 * and, when there are tag rules, every account of the organization with its tags.
 *
 * The same walk runs over AWS Organizations (./organizations.ts) and over a fleet file (./fleet-file.ts).
 */
import type { FleetConfig } from '../config/schema';
import { mapLimit } from '../domain/concurrency';
import { FleetError } from './errors';
import type { OrgAccount, OrgSnapshot } from './resolve';

/** A root or an OU. */
export interface OrgNode {
  readonly id: string;
  readonly name: string;
}

/** An account as a list call returns it. */
export interface OrgAccountInfo {
  readonly id: string;
  readonly name: string;
  readonly state: string;
}

/** The Organizations calls the walk makes; each answer is complete (every page read). */
export interface OrganizationsReader {
  /** ListRoots. */
  listRoots(): Promise<OrgNode[]>;
  /** ListOrganizationalUnitsForParent. */
  listOrganizationalUnits(parentId: string): Promise<OrgNode[]>;
  /** ListAccountsForParent: the accounts directly in that root or OU (not in its children). */
  listAccountsForParent(parentId: string): Promise<OrgAccountInfo[]>;
  /** ListAccounts: every account of the organization. */
  listAccounts(): Promise<OrgAccountInfo[]>;
  /** ListParents: the parent of an OU or account (an OU or the root). */
  parentOf(childId: string): Promise<string>;
  /** DescribeOrganizationalUnit: an OU's name. */
  describeOrganizationalUnit(id: string): Promise<OrgNode>;
  /** ListTagsForResource of an account. */
  listTags(accountId: string): Promise<Record<string, string>>;
}

/** How many Organizations calls the walk has in flight; Organizations' request quotas are low. */
const WALK_CONCURRENCY = 4;

function join(path: string, name: string): string {
  return path === '/' ? `/${name}` : `${path}/${name}`;
}

/** Finds an OU by its path from the root, one level at a time. */
async function ouByPath(reader: OrganizationsReader, rootId: string, path: string): Promise<{ id: string; ids: string[] }> {
  let parent = rootId;
  const ids = [rootId];
  let at = '/';
  for (const name of path.split('/').filter(Boolean)) {
    const children = await reader.listOrganizationalUnits(parent);
    const child = children.find((c) => c.name === name);
    if (!child) {
      throw new FleetError(`no OU ${join(at, name)} in the organization: ${at} has ${children.length === 0 ? 'no OUs' : children.map((c) => c.name).join(', ')}`);
    }
    parent = child.id;
    ids.push(child.id);
    at = join(at, name);
  }
  return { id: parent, ids };
}

/** Finds an OU's path and chain by its id, climbing to the root. */
async function ouById(reader: OrganizationsReader, rootId: string, id: string): Promise<{ path: string; ids: string[] }> {
  if (id === rootId) return { path: '/', ids: [rootId] };
  const names: string[] = [];
  const ids: string[] = [];
  let at = id;
  for (let depth = 0; at !== rootId; depth++) {
    // Organizations nests OUs at most five levels below the root.
    if (depth > 6) throw new FleetError(`OU ${id} is not below the root ${rootId}`);
    const node = await reader.describeOrganizationalUnit(at);
    names.unshift(node.name);
    ids.unshift(at);
    at = await reader.parentOf(at);
  }
  return { path: `/${names.join('/')}`, ids: [rootId, ...ids] };
}

/** Reads the organization for the fleet rules. */
export async function readOrganization(reader: OrganizationsReader, fleet: FleetConfig): Promise<OrgSnapshot> {
  const roots = await reader.listRoots();
  const root = roots[0];
  if (!root) throw new FleetError('the organization has no root: is the role in the management account or a delegated administrator?');

  // Each OU rule's OU, as path and chain of ids.
  const ous = await mapLimit(fleet.ous, WALK_CONCURRENCY, async (rule) => {
    if (rule.path !== undefined) {
      const found = await ouByPath(reader, root.id, rule.path);
      if (rule.id !== undefined && rule.id !== found.id) {
        throw new FleetError(`fleet.ous: path ${rule.path} is OU ${found.id} in the organization, not ${rule.id}; correct the id or the path`);
      }
      return { id: found.id, path: rule.path, ids: found.ids };
    }
    const found = await ouById(reader, root.id, rule.id!);
    return { id: rule.id!, path: found.path, ids: found.ids };
  });

  // Every account below the rules' OUs, each OU read once.
  const accounts = new Map<string, { info: OrgAccountInfo; ou: { ids: string[]; path: string } }>();
  const visited = new Set<string>();
  let level = ous.filter((o) => !ous.some((other) => other !== o && other.ids.length < o.ids.length && o.ids.includes(other.id))).map((o) => ({ id: o.id, ids: o.ids, path: o.path }));
  while (level.length > 0) {
    const todo = level.filter((n) => !visited.has(n.id));
    todo.forEach((n) => visited.add(n.id));
    const read = await mapLimit(todo, WALK_CONCURRENCY, async (node) => {
      const [children, members] = await Promise.all([reader.listOrganizationalUnits(node.id), reader.listAccountsForParent(node.id)]);
      for (const info of members) accounts.set(info.id, { info, ou: { ids: node.ids, path: node.path } });
      return children.map((c) => ({ id: c.id, ids: [...node.ids, c.id], path: join(node.path, c.name) }));
    });
    level = read.flat();
  }

  // Tag rules look at every account of the organization.
  const tagged = new Map<string, { info: OrgAccountInfo; tags: Record<string, string> }>();
  if (fleet.tags.length > 0) {
    const all = (await reader.listAccounts()).filter((a) => a.state === 'ACTIVE');
    const tags = await mapLimit(all, WALK_CONCURRENCY, (a) => reader.listTags(a.id));
    all.forEach((info, i) => tagged.set(info.id, { info, tags: tags[i]! }));
  }

  const ids = [...new Set([...accounts.keys(), ...tagged.keys()])].sort();
  const out: OrgAccount[] = ids.map((id) => {
    const inOu = accounts.get(id);
    const withTags = tagged.get(id);
    const info = (inOu?.info ?? withTags?.info)!;
    return { id, name: info.name, state: info.state, ...(inOu ? { ou: inOu.ou } : {}), ...(withTags ? { tags: withTags.tags } : {}) };
  });
  return { accounts: out, ous: ous.map((o) => ({ id: o.id, path: o.path })) };
}
