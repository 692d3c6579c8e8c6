import { MAX_MODULES_PER_TASK, RunnerManifestSchema } from '../../lib/domain/runner-contract';
import { AccountItemSchema, type AccountItem } from '../../lib/statemachine/contracts';
import { writeItems, type ItemsWriter } from '../../lib/statemachine/items';

/** An in-memory artifacts store: the items and manifests as written. */
function memoryArtifacts(): ItemsWriter & { objects: Map<string, string> } {
  const objects = new Map<string, string>();
  return { bucket: 'artifacts', objects, put: (key, body) => Promise.resolve(void objects.set(key, body)) };
}

function itemWith(modules: number): AccountItem {
  return {
    name: 'big',
    id: '111111111111',
    stage: 'dev',
    region: 'us-east-1',
    launcherRoleArn: 'arn:aws:iam::111111111111:role/tfstep-launcher',
    cluster: 'tfstep',
    planTaskDefinition: 'plan:1',
    applyTaskDefinition: 'apply:1',
    network: { subnets: ['subnet-1'], securityGroups: ['sg-1'], assignPublicIp: 'DISABLED' },
    timeoutSeconds: 3600,
    modules: Array.from({ length: modules }, (_, i) => `big/us-east-1/m${String(i).padStart(4, '0')}`),
    phase: 'plan-and-apply',
    taskDefinition: 'apply:1',
    approvedPlans: {},
  };
}

describe('the runner manifests of an item list', () => {
  it('writes an account with the most modules a task takes, in a manifest the runner accepts', async () => {
    const artifacts = memoryArtifacts();
    await writeItems(artifacts, 'items/dev.json', [itemWith(MAX_MODULES_PER_TASK)], 'exec-1');
    const [written] = JSON.parse(artifacts.objects.get('items/dev.json')!) as AccountItem[];
    const manifest = RunnerManifestSchema.parse(JSON.parse(artifacts.objects.get(written!.manifest!.key)!));
    expect(manifest.modules).toHaveLength(MAX_MODULES_PER_TASK);
  });

  it('refuses one module more when the items are written, naming the account and the limit, and writes nothing', async () => {
    const artifacts = memoryArtifacts();
    await expect(writeItems(artifacts, 'items/dev.json', [itemWith(MAX_MODULES_PER_TASK + 1)], 'exec-1')).rejects.toThrow(
      `account big has ${MAX_MODULES_PER_TASK + 1} modules to plan-and-apply in one task; a runner task takes at most ${MAX_MODULES_PER_TASK}`,
    );
    expect([...artifacts.objects.keys()]).toEqual([]);
  });
});

describe('module dependencies in the runner manifest', () => {
  it('writes the item dependencies and module concurrency into a manifest the runner accepts', async () => {
    // GIVEN an item whose m0001 depends on m0000, running two modules at once
    const item = { ...itemWith(3), dependencies: { 'big/us-east-1/m0001': ['big/us-east-1/m0000'] }, moduleConcurrency: 2 };
    const artifacts = memoryArtifacts();
    await writeItems(artifacts, 'items/dev.json', [item], 'exec-1');
    const [written] = JSON.parse(artifacts.objects.get('items/dev.json')!) as AccountItem[];
    const manifest = RunnerManifestSchema.parse(JSON.parse(artifacts.objects.get(written!.manifest!.key)!));
    expect(manifest.dependencies).toEqual({ 'big/us-east-1/m0001': ['big/us-east-1/m0000'] });
    expect(manifest.moduleConcurrency).toBe(2);
  });

  it('leaves both out of the manifest of an item without them, byte for byte as before', async () => {
    const artifacts = memoryArtifacts();
    await writeItems(artifacts, 'items/dev.json', [itemWith(1)], 'exec-1');
    const [written] = JSON.parse(artifacts.objects.get('items/dev.json')!) as AccountItem[];
    expect(artifacts.objects.get(written!.manifest!.key)).toBe('{"account":"big","execution":"exec-1","phase":"plan-and-apply","modules":["big/us-east-1/m0000"]}\n');
  });

  it('refuses an item whose dependencies name a module it does not run', () => {
    const item = { ...itemWith(2), dependencies: { 'big/us-east-1/m0001': ['big/us-east-1/elsewhere'] } };
    const parsed = AccountItemSchema.safeParse(item);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0]?.message).toBe("dependencies between the item's own modules; big/us-east-1/elsewhere is not one of them");
  });
});
