/** The runner's log keeps secrets out: values a real plan marks sensitive, and values that look like secrets. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { compileRedaction, sensitiveValues } from '../../lib/domain/redact';
import { Logger } from '../../lib/runner/logger';

const FIXTURES = path.join(__dirname, '..', 'fixtures');
const PLAN = JSON.parse(readFileSync(path.join(FIXTURES, 'terraform-show-json', 'sensitive-values.json'), 'utf8')) as unknown;
const PLAN_OUTPUT = readFileSync(path.join(FIXTURES, 'terraform-plan-output', 'sensitive-values.txt'), 'utf8');

function collect() {
  const out: string[] = [];
  return { out, logger: new Logger({ write: (c: string) => out.push(c) }, { write: (c: string) => out.push(c) }) };
}

describe('runner log redaction', () => {
  it('GIVEN terraform plan output with a token and an AWS secret key in clear text WHEN logged THEN neither reaches stdout or the kept log', () => {
    // GIVEN
    const { out, logger } = collect();
    // WHEN
    logger.info(PLAN_OUTPUT);
    // THEN
    for (const secret of ['tok_live_8f3b2c1d9e7a6b5c4d3e2f1a', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY']) {
      expect(out.join('')).not.toContain(secret);
      expect(logger.lines().join('\n')).not.toContain(secret);
    }
    expect(out.join('')).toContain('billing-api');
  });

  it('GIVEN the plan\'s sensitive values registered WHEN a later error prints them THEN they are masked', () => {
    // GIVEN what the runner registers after `terraform show -json`
    const { out, logger } = collect();
    for (const v of sensitiveValues(PLAN)) logger.addSecret(v);
    // WHEN an apply error echoes the password and the connection string
    logger.info('Error: connecting to postgres://app:Sup3rS3cretDbPassw0rd!@db.internal:5432/app failed');
    logger.error('auth failed for user app with Sup3rS3cretDbPassw0rd!');
    // THEN
    expect(out.join('')).not.toContain('Sup3rS3cretDbPassw0rd!');
  });

  it('GIVEN a private key printed line by line WHEN logged THEN every line of it is hidden', () => {
    // GIVEN
    const { out, logger } = collect();
    // WHEN
    logger.info('value = <<EOT\n-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\nEOT\nnext line');
    // THEN
    expect(out.join('')).not.toContain('MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7');
    expect(out.join('')).toContain('next line');
  });

  it('GIVEN configured patterns WHEN set on the logger THEN they apply to prefixed loggers too', () => {
    // GIVEN
    const { out, logger } = collect();
    logger.setRedaction(compileRedaction({ names: ['^pin$'] }));
    // WHEN
    logger.withPrefix('[dev/app] ').info('pin = "8812"');
    // THEN
    expect(out.join('')).toBe('[dev/app] pin = "(redacted)"\n');
  });
});
