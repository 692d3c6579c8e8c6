// Lints snippets with the project's ESLint config, through the ESLint API, in a process of its
// own: jest cannot load the ES-module config file (no --experimental-vm-modules).
// stdin: {"snippets": [{"code", "filePath"}], "configFor"?: "lib/app.ts"}
// stdout: {"results": [[{"rule", "message"}]], "config"?: {...}}
import { ESLint } from 'eslint';
import { join } from 'node:path';

const root = process.argv[2];
let input = '';
for await (const chunk of process.stdin) input += chunk;
const { snippets, configFor } = JSON.parse(input);
const eslint = new ESLint({ cwd: root });
const results = [];
for (const { code, filePath } of snippets) {
  const [result] = await eslint.lintText(code, { filePath: join(root, filePath) });
  results.push(result.messages.map((m) => ({ rule: m.ruleId, message: m.message })));
}
const config = configFor ? await eslint.calculateConfigForFile(join(root, configFor)) : undefined;
process.stdout.write(JSON.stringify({ results, config }));
