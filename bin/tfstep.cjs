#!/usr/bin/env node
// The tfstep CLI. TypeScript sources run through tsx, so no build step is needed.
// The AWS SDK prints an eight-line notice on Node 20 before every command; the README says
// which Node versions to use, and error output stays one line.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('tsx/cjs');
// Called explicitly rather than detected from process.argv[1], which names the link, not this
// file, when `npm link` or `npx` installed the CLI.
require('../lib/cli/main.ts').runAsProcess(process.argv);
