// The CDK app entry point (cdk.json runs it with tsx); the config file comes from context.
import { buildApp } from '../lib/app';
import { TfstepError } from '../lib/config/errors';

try {
  buildApp().app.synth();
} catch (err) {
  // A bad config is the user's to fix: print what is wrong without a stack trace.
  if (!(err instanceof TfstepError)) throw err;
  console.error(err.message);
  process.exitCode = 2;
}
