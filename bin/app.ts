// The CDK app entry point (cdk.json runs it with tsx); the config file comes from context.
import { buildApp } from '../lib/app';

buildApp().app.synth();
