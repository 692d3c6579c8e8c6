// `tfstep validate` and `cdk synth` judge a config the same way: every config file of the test
// suite is run through both, and each must accept exactly the files the other accepts.
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { buildApp } from '../../lib/app';
import { validateAll } from '../../lib/operator/validate';
import { FIXTURE_ENTRIES, removeTempDirs, ROOT, tempDir } from './support';

const SYNTH_TIMEOUT_MS = 300_000;

/** Every YAML config under test/fixtures and examples. */
function configFiles(): string[] {
  return [join(ROOT, 'test', 'fixtures'), join(ROOT, 'examples')]
    .flatMap((dir) => readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => join(dir, f)))
    .filter((f) => /\.ya?ml$/.test(f))
    .sort();
}

type Verdict = { accepted: true } | { accepted: false; why: string };

function validateVerdict(file: string): Verdict {
  const report = validateAll(file);
  if (report.ok) return { accepted: true };
  return { accepted: false, why: report.sections.flatMap((s) => s.problems).join('; ') };
}

/** What `cdk synth` does: build the app and synthesize it, cdk-nag and CloudFormation validation on. */
function synthVerdict(file: string): Verdict {
  try {
    const { app } = buildApp(file, tempDir('tfstep-agreement-'), { functionEntries: FIXTURE_ENTRIES, skipBundling: true, validate: true });
    app.synth({ force: true });
    return { accepted: true };
  } catch (err) {
    return { accepted: false, why: (err as Error).message };
  }
}

const FILES = configFiles();

describe('validate and synth agree', () => {
  afterAll(removeTempDirs);

  it('reads the example, the local fixtures and the config fixtures, accepted and refused ones', () => {
    // THEN the list is not empty by accident: it holds the files the cases below rely on
    const names = FILES.map((f) => relative(ROOT, f));
    expect(names).toEqual(
      expect.arrayContaining([
        'examples/tfstep.yaml',
        'test/fixtures/local/invalid.yaml',
        'test/fixtures/config/one-account-id-two-regions.yaml',
        'test/fixtures/config/runner-memory-does-not-fit-cpu.yaml',
        'test/fixtures/config/clone-url-remote-helper.yaml',
        'test/fixtures/config/gitlab-two-regions.yaml',
      ]),
    );
  });

  it.each(FILES.map((f) => [relative(ROOT, f), f]))(
    '%s',
    (_name, file) => {
      // WHEN the file is validated and synthesized
      const validate = validateVerdict(file);
      const synth = synthVerdict(file);
      // THEN both accept it or both refuse it (the reasons are shown when they differ)
      expect({ validate: validate.accepted, synth: synth.accepted, why: { validate, synth } }).toEqual({
        validate: synth.accepted,
        synth: validate.accepted,
        why: { validate, synth },
      });
    },
    SYNTH_TIMEOUT_MS,
  );

  it.each([
    ['one account id in two regions', 'one-account-id-two-regions.yaml', /accounts\[1\]\.id: .*each account id once \(111111111111 is also accounts\[0\]\)/],
    ['memory that does not fit the cpu', 'runner-memory-does-not-fit-cpu.yaml', /runner\.memoryMiB: .*memoryMiB 8192 does not fit cpu 256; expected 512 to 2048 in steps of 512/],
    ['a clone URL the runner refuses', 'clone-url-remote-helper.yaml', /repositories\[0\]\.cloneUrls\[1\]: got "ext::sh -c touch% ~\/pwned"; expected a clone URL the runner accepts/],
  ])('refuses %s in the config itself, naming the field', (_what, name, message) => {
    // WHEN validated
    const report = validateAll(join(ROOT, 'test', 'fixtures', 'config', name));
    // THEN the config section fails with the rule's message
    const config = report.sections.find((s) => s.name === 'config')!;
    expect(config.ok).toBe(false);
    expect(config.problems).toEqual([expect.stringMatching(message)]);
  });
});
