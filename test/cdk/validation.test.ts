import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CfnResource, Validations } from 'aws-cdk-lib';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { buildExampleApp, removeTempDirs, writeExampleVariant } from './support';

/** Synth takes a while with every rule of both validators on a loaded machine. */
const SYNTH_TIMEOUT_MS = 240_000;

interface ValidationReport {
  pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string; severity?: string }[] }[];
}

function readReport(outdir: string): ValidationReport {
  return JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as ValidationReport;
}

/** Every acknowledgement recorded anywhere in the tree: rule id -> reason, with where. */
function acknowledgements(root: IConstruct): { path: string; id: string; reason: unknown }[] {
  return root.node.findAll().flatMap((c) =>
    c.node.metadata
      .filter((m) => m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((m) => Object.entries(m.data as Record<string, unknown>).map(([id, reason]) => ({ path: c.node.path, id, reason }))),
  );
}

describe('template validation', () => {
  afterAll(removeTempDirs);

  it(
    'passes cdk-nag AWS Solutions and CDK CloudFormation validation with nothing left unacknowledged',
    () => {
      // GIVEN the example app with both validators on
      const { app } = buildExampleApp({ validate: true });
      // WHEN it is synthesized
      const synth = () => app.synth({ force: true });
      // THEN nothing fails and the report lists no violation, error or warning
      expect(synth).not.toThrow();
      const report = readReport(app.outdir);
      expect(report.pluginReports.flatMap((r) => r.violations)).toEqual([]);
      // AND every acknowledgement gives a real reason
      const acks = acknowledgements(app);
      expect(acks.length).toBeGreaterThan(10);
      for (const ack of acks) {
        expect({ ...ack, hasReason: typeof ack.reason === 'string' && ack.reason.trim().length >= 30 }).toEqual({ ...ack, hasReason: true });
        // Findings are acknowledged one by one (IAM5[...]), never a whole wildcard rule.
        if (/AwsSolutions-IAM[45]/.test(ack.id)) expect(ack.id).toMatch(/\[(Action|Resource|Policy)::.+\]$/);
      }
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'passes both validators with git credentials for private repositories (a secret per account, one for the reader)',
    () => {
      // GIVEN git credentials in the config
      const file = writeExampleVariant((doc) => {
        doc.git = { accountSecretName: 'tfstep/git-credentials', centralSecret: 'tfstep/git-reader' };
      });
      const { app } = buildExampleApp({ validate: true }, file);
      // WHEN / THEN
      expect(() => app.synth({ force: true })).not.toThrow();
      expect(readReport(app.outdir).pluginReports.flatMap((r) => r.violations)).toEqual([]);
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    "passes both validators with accounts' own state settings (prefix, lock file, lock table, KMS key, state account)",
    () => {
      // GIVEN state settings on every account
      const file = writeExampleVariant((doc) => {
        const [dev, stage, prod] = doc.accounts as Record<string, unknown>[];
        dev!.state = { bucket: 'acme-tf-state-dev', keyPrefix: 'live/', lockfile: true, kmsKey: 'arn:aws:kms:us-east-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab' };
        stage!.state = { bucket: 'acme-tf-state-stage', lockTable: 'tf-locks' };
        prod!.state = { bucket: 'acme-tf-state', lockfile: true, roleArn: 'arn:aws:iam::444444444444:role/terraform-state' };
      });
      const { app } = buildExampleApp({ validate: true }, file);
      // WHEN / THEN
      expect(() => app.synth({ force: true })).not.toThrow();
      expect(readReport(app.outdir).pluginReports.flatMap((r) => r.violations)).toEqual([]);
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'fails when a resource breaks an AWS Solutions rule or a CloudFormation rule',
    () => {
      // GIVEN the example app plus an unencrypted queue and a queue with a mistyped property
      const { app, central, accounts } = buildExampleApp({ validate: true });
      new sqs.Queue(central, 'Unencrypted', { encryption: sqs.QueueEncryption.UNENCRYPTED });
      new CfnResource(accounts.get('dev')!, 'Mistyped', { type: 'AWS::SQS::Queue', properties: { VisibilityTimeout: 'never' } });
      // WHEN it is synthesized
      // THEN synthesis fails, and the report names both findings
      expect(() => app.synth({ force: true })).toThrow(/AwsSolutions-SQS2[\s\S]*CloudFormation-Validate::F3012/);
      const report = readReport(app.outdir);
      const rules = report.pluginReports.flatMap((r) => r.violations.map((v) => `${r.pluginName}:${v.ruleName}:${v.severity}`));
      expect(rules).toEqual(expect.arrayContaining(['AwsSolutions:AwsSolutions-SQS2:error', 'CloudFormation Validate:F3012:error']));
    },
    SYNTH_TIMEOUT_MS,
  );
});
