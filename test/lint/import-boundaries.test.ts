/**
 * The import boundaries of lib/ are lint rules (eslint.config.mjs). These tests lint small
 * offending snippets with the project's own ESLint config, so a rule that stops firing (a moved
 * folder, a pattern that no longer matches) fails here rather than letting the layering rot.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

interface Message {
  rule: string | null;
  message: string;
}

/**
 * The snippets of this file, each linted as if it were the file at `filePath` (an existing file,
 * so the type-aware parser knows it). One ESLint run for them all: it builds the program once.
 */
const SNIPPETS = {
  domainSdk: {
    code: "import { S3Client } from '@aws-sdk/client-s3';\nimport { Stack } from 'aws-cdk-lib';\nexport const used = [S3Client, Stack];\n",
    filePath: 'lib/domain/names.ts',
  },
  // store sits below pipeline: the run table must not know the functions that use it
  storeUp: { code: "import { createPipelineHandler } from '../pipeline/handler';\nexport const used = createPipelineHandler;\n", filePath: 'lib/store/keys.ts' },
  sameFloor: { code: "import { createWebhookHandler } from '../webhook/handler';\nexport const used = createWebhookHandler;\n", filePath: 'lib/runner/exec.ts' },
  lambdasFromPipeline: { code: "export * from '../../lambdas/pipeline/index';\n", filePath: 'lib/pipeline/deps.ts' },
  lambdasFromCommand: { code: "import '../../../lambdas/webhook/index';\n", filePath: 'lib/cli/commands/show.ts' },
  // the local engine sits below the terminal UI of the local mode
  engineToUi: { code: "import { renderLines } from '../ui/progress';\nexport const used = renderLines;\n", filePath: 'lib/local/engine/session.ts' },
  uiToEngine: { code: "import { RunTracker } from '../engine/tracker';\nexport const used = RunTracker;\n", filePath: 'lib/local/ui/progress.ts' },
  // option parsing belongs to the command line
  commanderInOperator: { code: "import { Option } from 'commander';\nexport const used = Option;\n", filePath: 'lib/operator/backend.ts' },
  downward: {
    code: "import { AccountItemSchema } from '../statemachine/contracts';\nimport { PipelineError } from './errors';\nexport const used = [AccountItemSchema, PipelineError];\n",
    filePath: 'lib/pipeline/deps.ts',
  },
};
type SnippetName = keyof typeof SNIPPETS;

let linted: Record<SnippetName, Message[]>;
let floors: string[][];

beforeAll(() => {
  const names = Object.keys(SNIPPETS) as SnippetName[];
  const out = execFileSync(process.execPath, [join(__dirname, 'lint-snippets.mjs'), ROOT], {
    input: JSON.stringify({ snippets: names.map((n) => SNIPPETS[n]), configFor: 'lib/app.ts' }),
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const parsed = JSON.parse(out) as { results: Message[][]; config: { rules: Record<string, [number, { floors: string[][] }]> } };
  linted = Object.fromEntries(names.map((n, i) => [n, parsed.results[i]!])) as Record<SnippetName, Message[]>;
  floors = parsed.config.rules['tfstep/import-floors']![1].floors;
}, 300_000);

const lint = (name: SnippetName): Message[] => linted[name];

describe('import boundaries of lib/', () => {
  it('refuses the AWS SDK and aws-cdk-lib in lib/domain', () => {
    const messages = lint('domainSdk');
    expect(messages.filter((m) => m.rule === 'no-restricted-imports').map((m) => m.message)).toEqual([
      expect.stringContaining('lib/domain stays free of the AWS SDK'),
      expect.stringContaining('lib/domain stays free of aws-cdk-lib'),
    ]);
  });

  it('refuses an import that runs up a floor, and names both floors', () => {
    const messages = lint('storeUp');
    expect(messages).toContainEqual({
      rule: 'tfstep/import-floors',
      message: expect.stringMatching(/^lib\/store \(floor 3\) imports lib\/pipeline \(floor 4\): a folder imports only from floors below its own/),
    });
  });

  it('refuses an import between two folders of the same floor', () => {
    const messages = lint('sameFloor');
    expect(messages.map((m) => m.rule)).toContain('tfstep/import-floors');
  });

  it('refuses lambdas/ from anywhere in lib/, however deep the importer', () => {
    const fromPipeline = lint('lambdasFromPipeline');
    const fromCommand = lint('lambdasFromCommand');
    for (const messages of [fromPipeline, fromCommand]) {
      expect(messages).toContainEqual({ rule: 'tfstep/import-floors', message: expect.stringContaining('nothing in lib/ imports lambdas/') });
    }
  });

  it('refuses lib/local/ui in lib/local/engine, and lets the UI import the engine', () => {
    expect(lint('engineToUi')).toContainEqual({ rule: 'no-restricted-imports', message: expect.stringContaining('lib/local/engine does not import lib/local/ui') });
    expect(lint('uiToEngine')).toEqual([]);
  });

  it('refuses commander in lib/operator: options are parsed in lib/cli', () => {
    expect(lint('commanderInOperator')).toContainEqual({ rule: 'no-restricted-imports', message: expect.stringContaining('commander stays in lib/cli') });
  });

  it('lets a folder import a lower floor and its own files', () => {
    const messages = lint('downward');
    expect(messages).toEqual([]);
  });

  it('gives every folder and top-level file of lib/ a floor', () => {
    // read from the config ESLint computes for a file of lib/
    const placed = floors.flat().sort();
    const entries = readdirSync(join(ROOT, 'lib'), { withFileTypes: true })
      .map((e) => (e.isDirectory() ? e.name : e.name.replace(/\.ts$/, '')))
      .sort();
    expect(placed).toEqual(entries);
  });
});
