import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { compileRedaction, REDACTED, redactText, sensitiveValues } from '../../lib/domain/redact';

const FIXTURES = path.join(__dirname, '..', 'fixtures');
/** A real `terraform show -json` of terraform_data resources with a sensitive variable, a sensitive() value and a sensitive output. */
const PLAN = JSON.parse(readFileSync(path.join(FIXTURES, 'terraform-show-json', 'sensitive-values.json'), 'utf8')) as unknown;
/** Terraform's own plan output of the same plan, as the runner's log receives it. */
const PLAN_OUTPUT = readFileSync(path.join(FIXTURES, 'terraform-plan-output', 'sensitive-values.txt'), 'utf8');

const DB_PASSWORD = 'Sup3rS3cretDbPassw0rd!';
const API_TOKEN = 'tok_live_8f3b2c1d9e7a6b5c4d3e2f1a';
const AWS_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const KEY_BODY = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7';

describe('sensitiveValues', () => {
  it('collects every value the plan marks sensitive: attributes, sensitive(), outputs and sensitive variables', () => {
    // WHEN
    const found = sensitiveValues(PLAN);
    // THEN
    expect(found).toContain(DB_PASSWORD);
    expect([...found].some((v) => v.includes(KEY_BODY))).toBe(true);
    expect(found).toContain(`postgres://app:${DB_PASSWORD}@db.internal:5432/app`);
    // AND values no provider marked, under attributes named like secrets
    expect(found).toContain(API_TOKEN);
    expect(found).toContain(AWS_SECRET);
    // AND nothing that is not secret
    for (const plain of ['billing-api', 'postgres', 'eu-west-1', 'terraform_data.api']) expect(found).not.toContain(plain);
  });

  it('collects nothing without the default name patterns but still what Terraform marks', () => {
    // WHEN
    const found = sensitiveValues(PLAN, compileRedaction({ defaults: false }));
    // THEN
    expect(found).toContain(DB_PASSWORD);
    expect(found).not.toContain(API_TOKEN);
  });
});

describe('redactText', () => {
  it('hides the token and the AWS secret key terraform prints in clear text in its plan output', () => {
    // GIVEN the real plan output: Terraform hides only what the provider marked sensitive
    expect(PLAN_OUTPUT).toContain(API_TOKEN);
    expect(PLAN_OUTPUT).toContain(AWS_SECRET);
    // WHEN
    const shown = PLAN_OUTPUT.split('\n').map((l) => redactText(l)).join('\n');
    // THEN
    expect(shown).not.toContain(API_TOKEN);
    expect(shown).not.toContain(AWS_SECRET);
    expect(shown).toContain(`api_token  = "${REDACTED}"`);
    // AND what is no secret reads as before
    expect(shown).toContain('name       = "billing-api"');
    expect(shown).toContain('Plan:');
    expect(shown).toContain('(sensitive value)');
  });

  it.each([
    ['JSON', '{"db_password": "hunter2hunter2", "user": "app"}', 'hunter2hunter2', '{"db_password": "(redacted)", "user": "app"}'],
    ['environment', 'export GITHUB_TOKEN=abc123def456 && run', 'abc123def456', 'export GITHUB_TOKEN=(redacted) && run'],
    ['URL credentials', 'cannot connect to postgres://app:pa55word@db:5432/x', 'pa55word', 'cannot connect to postgres://app:(redacted)@db:5432/x'],
    ['GitHub token', 'remote: ghp_0123456789abcdefghijABCDEFGHIJ012345 denied', 'ghp_0123456789abcdefghijABCDEFGHIJ012345', 'remote: (redacted) denied'],
    ['private key', 'key -----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY----- end', 'MIIB', 'key (redacted) end'],
  ])('hides a secret in %s', (_what, text, secret, expected) => {
    // WHEN
    const shown = redactText(text);
    // THEN
    expect(shown).not.toContain(secret);
    expect(shown).toBe(expected);
  });

  it('keeps commits, plan hashes and ordinary assignments', () => {
    // GIVEN a 40-character commit, a SHA-256 and settings that are no secret
    const text = 'commit 4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39 plan sha256 ' + 'ab'.repeat(32) + ' region = "eu-west-1" token_count = 5';
    // THEN
    expect(redactText(text)).toBe(text);
  });

  it('applies configured name and value patterns', () => {
    // GIVEN
    const redaction = compileRedaction({ names: ['^pin$'], values: ['ACME-[0-9]{6}'] });
    // WHEN
    const shown = redactText('pin = "4711" license ACME-123456', redaction);
    // THEN
    expect(shown).toBe(`pin = "${REDACTED}" license ${REDACTED}`);
  });
});
