#!/usr/bin/env node
// The tfstep CLI. TypeScript sources run through tsx, so no build step is needed.
if (Number(process.versions.node.split('.')[0]) < 22) {
  // One line instead of the AWS SDK's eight-line notice on every command.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  process.stderr.write(`tfstep: Node.js ${process.version} is end-of-life; use Node.js 22 or 24 (what the Lambda functions run)\n`);
}
require('tsx/cjs');
require('../lib/cli/main.ts');
