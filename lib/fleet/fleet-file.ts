/**
 * The local mode's stand-in for AWS Organizations: a YAML or JSON file in the shapes the
 * Organizations API returns (`Roots`, `OrganizationalUnits` with their `ParentId`, `Accounts`
 * with their `ParentId`, `State` and `Tags`):
 *
 * ```yaml
 * Roots: [{ Id: r-ab12, Name: Root }]
 * OrganizationalUnits:
 *   - { Id: ou-ab12-11111111, Name: workloads, ParentId: r-ab12 }
 *   - { Id: ou-ab12-22222222, Name: prod, ParentId: ou-ab12-11111111 }
 * Accounts:
 *   - { Id: "111111111111", Name: shop-prod, State: ACTIVE, ParentId: ou-ab12-22222222, Tags: [{ Key: team, Value: shop }] }
 * ```
 *
 * The file is read on every call, so an account added to it is seen by the next run.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { FleetError } from './errors';
import type { OrganizationsReader } from './walk';

const Tag = z.object({ Key: z.string().min(1), Value: z.string() }).strict();

export const FleetFileSchema = z
  .object({
    Roots: z.array(z.object({ Id: z.string().regex(/^r-[0-9a-z]{4,32}$/, 'a root id such as r-ab12'), Name: z.string().default('Root') }).strict()).length(1, 'exactly one root'),
    OrganizationalUnits: z
      .array(z.object({ Id: z.string().regex(/^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/, 'an OU id such as ou-ab12-cd34ef56'), Name: z.string().min(1), ParentId: z.string().min(1) }).strict())
      .default([]),
    Accounts: z
      .array(
        z
          .object({
            Id: z.string().regex(/^\d{12}$/, 'a 12-digit account id, quoted as a string'),
            Name: z.string().min(1),
            Email: z.string().optional(),
            State: z.string().default('ACTIVE'),
            ParentId: z.string().min(1),
            Tags: z.array(Tag).default([]),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();

export type FleetFile = z.output<typeof FleetFileSchema>;

/** Reads and validates a fleet file; problems name the field, what arrived and what was expected. */
export function loadFleetFile(file: string): FleetFile {
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FleetError(`fleet file ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}; expected a YAML or JSON file in the shape of AWS Organizations (Roots, OrganizationalUnits, Accounts)`);
  }
  const res = FleetFileSchema.safeParse(raw);
  if (!res.success) {
    const lines = res.error.issues.map((i) => `  - ${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new FleetError(`fleet file ${file}: ${res.error.issues.length} problem(s)\n${lines.join('\n')}`);
  }
  const data = res.data;
  const parents = new Set([...data.Roots.map((r) => r.Id), ...data.OrganizationalUnits.map((o) => o.Id)]);
  const orphans = [...data.OrganizationalUnits, ...data.Accounts].filter((x) => !parents.has(x.ParentId));
  if (orphans.length > 0) throw new FleetError(`fleet file ${file}: ${orphans.map((o) => `${o.Id} has ParentId ${o.ParentId}`).join(', ')}; expected the id of the root or of an OU in the file`);
  return data;
}

/** An {@link OrganizationsReader} answering from a fleet file, re-read on each refresh. */
export function fleetFileReader(file: string): OrganizationsReader {
  let data: FleetFile | undefined;
  const read = () => (data ??= loadFleetFile(file));
  const info = (a: FleetFile['Accounts'][number]) => ({ id: a.Id, name: a.Name, state: a.State });
  return {
    listRoots: () => Promise.resolve(read().Roots.map((r) => ({ id: r.Id, name: r.Name }))),
    listOrganizationalUnits: (parent) => Promise.resolve(read().OrganizationalUnits.filter((o) => o.ParentId === parent).map((o) => ({ id: o.Id, name: o.Name }))),
    listAccountsForParent: (parent) => Promise.resolve(read().Accounts.filter((a) => a.ParentId === parent).map(info)),
    listAccounts: () => Promise.resolve(read().Accounts.map(info)),
    parentOf: (child) => {
      const node = [...read().OrganizationalUnits, ...read().Accounts].find((x) => x.Id === child);
      return node ? Promise.resolve(node.ParentId) : Promise.reject(new FleetError(`fleet file ${file}: no OU or account ${child}`));
    },
    describeOrganizationalUnit: (id) => {
      const ou = read().OrganizationalUnits.find((o) => o.Id === id);
      return ou ? Promise.resolve({ id, name: ou.Name }) : Promise.reject(new FleetError(`fleet file ${file}: no OU ${id}`));
    },
    listTags: (id) => Promise.resolve(Object.fromEntries((read().Accounts.find((a) => a.Id === id)?.Tags ?? []).map((t) => [t.Key, t.Value]))),
  };
}

/**
 * The fleet file the local mode reads: `override` (the `--fleet-file` option) if given, else the
 * config's `fleet.file`, relative to the config file's folder. Undefined without either.
 */
export function localFleetFile(configFile: string, config: { readonly fleet?: { readonly file?: string } }, override?: string): string | undefined {
  if (override) return resolve(override);
  const file = config.fleet?.file;
  return file === undefined ? undefined : resolve(dirname(resolve(configFile)), file);
}
