#!/usr/bin/env node
// The tfstep CLI. TypeScript sources run through tsx, so no build step is needed.
require('tsx/cjs');
require('../lib/cli/main.ts');
