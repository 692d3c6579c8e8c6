import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Clock, SigningKeyProvider } from './types';
import { systemClock } from './types';

// Distinct purpose strings: a link signature can never be replayed as a form token or back.
const LINK_PURPOSE = 'tfstep-approval-link-v1';
const CSRF_PURPOSE = 'tfstep-approval-form-v1';

/** The approver as signed and compared: addresses are case-insensitive in practice. */
export function normalizeApprover(approver: string): string {
  return approver.trim().toLowerCase();
}

function mac(key: string, purpose: string, approvalId: string, approver: string, exp: number): string {
  // Newline-separated fields: none of them may contain a newline (ids and emails cannot).
  return createHmac('sha256', key).update(`${purpose}\n${approvalId}\n${normalizeApprover(approver)}\n${exp}`).digest('base64url');
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The signature of one approver's link: HMAC-SHA256 over (id, approver, exp). */
export function signLink(key: string, approvalId: string, approver: string, exp: number): string {
  return mac(key, LINK_PURPOSE, approvalId, approver, exp);
}

/** Checks a link signature in constant time. */
export function verifyLink(key: string, approvalId: string, approver: string, exp: number, sig: string): boolean {
  return safeEqual(signLink(key, approvalId, approver, exp), sig);
}

/** The form's CSRF token: the same fields under another purpose, so it differs from the link's signature. */
export function csrfToken(key: string, approvalId: string, approver: string, exp: number): string {
  return mac(key, CSRF_PURPOSE, approvalId, approver, exp);
}

/** Checks a CSRF token in constant time. */
export function verifyCsrf(key: string, approvalId: string, approver: string, exp: number, token: string): boolean {
  return safeEqual(csrfToken(key, approvalId, approver, exp), token);
}

/** The path and query of one approver's link (append to the base URL). */
export function linkPath(approvalId: string, approver: string, exp: number, sig: string): string {
  const query = new URLSearchParams({ approver, exp: String(exp), sig });
  return `/approvals/${encodeURIComponent(approvalId)}?${query.toString()}`;
}

/** One approver's full signed link. */
export function buildLink(baseUrl: string, key: string, approvalId: string, approver: string, exp: number): string {
  return `${baseUrl.replace(/\/+$/, '')}${linkPath(approvalId, approver, exp, signLink(key, approvalId, approver, exp))}`;
}

/** SHA-256 of a task token: lets the store recognise a retried request without comparing tokens in logs. */
export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A fixed key, for tests and the local mode. */
export class StaticKeyProvider implements SigningKeyProvider {
  constructor(private readonly key: string) {
    if (key.length < 16) throw new Error('the approval signing key must be at least 16 characters');
  }

  /** {@inheritDoc SigningKeyProvider.getKey} */
  getKey(): Promise<string> {
    return Promise.resolve(this.key);
  }
}

/**
 * Reads the signing key from a Secrets Manager secret (its SecretString), cached so a busy
 * approval page does not turn into one Secrets Manager call per request.
 */
export class SecretsManagerKeyProvider implements SigningKeyProvider {
  private cached: { key: string; at: number } | undefined;
  private inFlight: Promise<string> | undefined;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    private readonly options: { ttlMs?: number; clock?: Clock } = {},
  ) {}

  /** {@inheritDoc SigningKeyProvider.getKey} */
  async getKey(): Promise<string> {
    const clock = this.options.clock ?? systemClock;
    const now = clock.now().getTime();
    if (this.cached && now - this.cached.at < (this.options.ttlMs ?? 300_000)) return this.cached.key;
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    const key = await this.inFlight;
    this.cached = { key, at: now };
    return key;
  }

  private async fetch(): Promise<string> {
    const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId }));
    const key = out.SecretString ?? (out.SecretBinary ? Buffer.from(out.SecretBinary).toString('utf8') : undefined);
    if (key === undefined || key.length < 16) {
      throw new Error(`secret ${this.secretId} has no usable approval signing key (a SecretString of at least 16 characters is expected)`);
    }
    return key;
  }
}
