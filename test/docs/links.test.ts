import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { brokenLinks, githubSlug, headingAnchors, relativeLinks } from './markdown-links';

const ROOT = resolve(__dirname, '..', '..');
const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const docFiles = () =>
  readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(DOCS, f));

describe('the README and docs/', () => {
  test('every relative link and anchor resolves', () => {
    // GIVEN the README and every Markdown file under docs/
    const files = [README, ...docFiles()];

    // WHEN each file's links are resolved
    const problems = files.flatMap((f) => brokenLinks(f)).map((p) => p.replace(`${ROOT}/`, ''));

    // THEN none is broken (each problem names the file, line, link and what is missing)
    expect(problems).toEqual([]);
    // AND there was something to check: the README links to its docs and anchors
    expect(relativeLinks(readFileSync(README, 'utf8')).filter((l) => l.target.includes('#')).length).toBeGreaterThan(3);
  });

  test('the README links to every file of docs/, and is a front door of at most about 400 lines', () => {
    // GIVEN the README and the docs
    const readme = readFileSync(README, 'utf8');
    const linked = new Set(relativeLinks(readme).map((l) => l.target.split('#')[0]));

    // WHEN each doc is looked up in the README's links
    const unlinked = docFiles()
      .map((f) => `docs/${basename(f)}`)
      .filter((f) => !linked.has(f));

    // THEN every doc is on the map, and the README stays short
    expect(unlinked).toEqual([]);
    expect(readme.split('\n').length).toBeLessThanOrEqual(420);
  });
});

describe('the link check', () => {
  test.each([
    ['Quick start', 'quick-start'],
    ['Supported Node.js versions', 'supported-nodejs-versions'],
    ['The webhook: why a function URL with auth `NONE`', 'the-webhook-why-a-function-url-with-auth-none'],
    ['Do not `assume_role` in the provider', 'do-not-assume_role-in-the-provider'],
    ['Fan-out: one stage, no approval, Distributed Map concurrency 40', 'fan-out-one-stage-no-approval-distributed-map-concurrency-40'],
    ['See [design](design.md) *now*', 'see-design-now'],
  ])('slugs %j as GitHub does: #%s', (heading, slug) => {
    // GIVEN a heading WHEN slugged THEN it is GitHub's anchor
    expect(githubSlug(heading)).toBe(slug);
  });

  test('numbers repeated headings and ignores headings in code blocks', () => {
    // GIVEN two headings of the same text and a "heading" inside a fenced block
    const anchors = headingAnchors('# Limits\n\n```sh\n# not a heading\n```\n\n## Limits\n');

    // THEN GitHub's anchors are listed, the comment in the code block is not
    expect([...anchors]).toEqual(['limits', 'limits-1']);
  });

  test('fails when a link names a missing file or an anchor no heading has', () => {
    // GIVEN a folder with a page whose links are good, bad and external
    const dir = mkdtempSync(join(tmpdir(), 'tfstep-links-'));
    try {
      writeFileSync(join(dir, 'other.md'), '# Other page\n\n## Its part\n');
      writeFileSync(
        join(dir, 'page.md'),
        [
          '# Page',
          '',
          'Good: [other](other.md), [its part](other.md#its-part), [here](#page), [site](https://example.com/x.md#nothing).',
          'Code spans are not links: `[x](missing-in-code.md)`.',
          'Bad: [gone](gone.md) and [no part](other.md#no-such-part) and [self](#nowhere).',
          '',
          '```',
          '[in a fence](also-missing.md)',
          '```',
        ].join('\n'),
      );

      // WHEN its links are checked
      const problems = brokenLinks(join(dir, 'page.md')).map((p) => p.replace(`${dir}/`, ''));

      // THEN exactly the three bad ones are reported, each saying what is missing
      expect(problems).toEqual([
        'page.md:5: gone.md: no file gone.md',
        'page.md:5: other.md#no-such-part: no heading with anchor #no-such-part in other.md',
        'page.md:5: #nowhere: no heading with anchor #nowhere in this file',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
