import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Clock, SecretProvider, SecretStage } from './types';

interface CacheEntry {
  readonly value: string | undefined;
  readonly fetchedAt: number;
}

/** Options of {@link SecretsManagerSecretProvider}. */
export interface SecretsManagerSecretProviderOptions {
  /** How long a fetched value is reused. Short, so a rotation is picked up quickly. */
  readonly ttlMs?: number;
  /**
   * The least age of a cached value before `refresh` fetches it again. Refreshes happen when no
   * secret matches, which anyone can cause, so they are rate-limited to keep unauthenticated
   * requests from turning into Secrets Manager calls.
   */
  readonly minRefreshMs?: number;
  readonly clock?: Clock;
}

/**
 * Reads the webhook secret from Secrets Manager by rotation stage, with a short cache. The
 * SecretString is used as is (no trimming): it must be byte-for-byte what the git host holds.
 */
export class SecretsManagerSecretProvider implements SecretProvider {
  private readonly cache = new Map<SecretStage, CacheEntry>();
  private readonly inFlight = new Map<SecretStage, Promise<string | undefined>>();
  private readonly ttlMs: number;
  private readonly minRefreshMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly client: SecretsManagerClient,
    private readonly secretId: string,
    options: SecretsManagerSecretProviderOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.minRefreshMs = options.minRefreshMs ?? 10_000;
    this.clock = options.clock ?? { now: () => new Date() };
  }

  /** {@inheritDoc SecretProvider.getSecret} */
  async getSecret(stage: SecretStage, options: { refresh?: boolean } = {}): Promise<string | undefined> {
    const now = this.clock.now().getTime();
    const cached = this.cache.get(stage);
    if (cached) {
      const age = now - cached.fetchedAt;
      const fresh = options.refresh ? age < this.minRefreshMs : age < this.ttlMs;
      if (fresh) return cached.value;
    }
    // Concurrent invocations in one process share one fetch.
    const pending = this.inFlight.get(stage);
    if (pending) return pending;
    const fetch = this.fetch(stage).then(
      (value) => {
        this.cache.set(stage, { value, fetchedAt: this.clock.now().getTime() });
        return value;
      },
    );
    this.inFlight.set(stage, fetch);
    try {
      return await fetch;
    } finally {
      this.inFlight.delete(stage);
    }
  }

  private async fetch(stage: SecretStage): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetSecretValueCommand({ SecretId: this.secretId, VersionStage: stage }));
      if (out.SecretString !== undefined) return out.SecretString;
      if (out.SecretBinary !== undefined) return Buffer.from(out.SecretBinary).toString('utf8');
      return undefined;
    } catch (err) {
      // A secret that was never rotated has no AWSPREVIOUS version: not an error.
      if (stage === 'AWSPREVIOUS' && err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  }
}

/**
 * A fixed secret (and optionally the previous one), for the local server, tests and the
 * benchmark.
 */
export class StaticSecretProvider implements SecretProvider {
  constructor(
    private readonly current: string,
    private readonly previous?: string,
  ) {}

  /** {@inheritDoc SecretProvider.getSecret} */
  getSecret(stage: SecretStage): Promise<string | undefined> {
    return Promise.resolve(stage === 'AWSCURRENT' ? this.current : this.previous);
  }
}
