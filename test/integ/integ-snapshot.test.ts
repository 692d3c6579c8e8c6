/**
 * The integration test app, checked offline: it synthesizes (without AWS, without bundling) and
 * its templates match the committed snapshot. `npm run integ` deploys the same app to a sandbox.
 * After a deliberate change to the stacks, update the snapshot with `npx jest test/integ -u`.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildIntegApp, integConfig, integPush } from './integ.pipeline';
import { PushEventSchema } from '../../lib/domain/push-event';

/** Asset hashes change with every edit of a function's code, salts with every synth; the snapshot is about the resources. */
function normalize(text: string): unknown {
  // integ-tests-alpha salts each assertion with the synth time so it reruns on every deploy.
  return JSON.parse(text.replace(/[0-9a-f]{64}/g, '<asset-hash>').replace(/"salt": ?"\d+"/g, '"salt":"<synth-time>"')) as unknown;
}

describe('integ.pipeline', () => {
  let outdir: string;
  let templates: Map<string, unknown>;
  beforeAll(() => {
    outdir = mkdtempSync(path.join(os.tmpdir(), 'tfstep-integ-'));
    buildIntegApp({}, { outdir, skipBundling: true }).synth();
    templates = new Map(
      readdirSync(outdir)
        .filter((f) => f.endsWith('.template.json'))
        .sort()
        .map((f) => [f, normalize(readFileSync(path.join(outdir, f), 'utf8'))]),
    );
  }, 120_000);
  afterAll(() => rmSync(outdir, { recursive: true, force: true }));

  it('GIVEN no sandbox WHEN synthesized THEN it has the central stack, the account stack and the assertion stack', () => {
    expect([...templates.keys()].map((f) => f.replace(/\.template\.json$/, ''))).toEqual(
      expect.arrayContaining(['tfstep-integ-central', 'tfstep-integ-account-dev', expect.stringMatching(/^tfsteppipelineDefaultTestDeployAssert/) as string]),
    );
  });

  it('GIVEN the placeholder sandbox WHEN the push is built THEN it is a valid Git Push event', () => {
    expect(() => PushEventSchema.parse(integPush(integConfig({}), {}))).not.toThrow();
  });

  it('GIVEN the templates WHEN compared with the committed snapshot THEN they match', () => {
    for (const [file, template] of templates) expect(template).toMatchSnapshot(file);
  });
});
