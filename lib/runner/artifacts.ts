/**
 * The artifacts store: the central S3 bucket in AWS, a folder with the same key layout in the
 * local mode. Keys come from `artifactKeys` in the runner contract.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';

/** Raised by {@link ArtifactStore.get} when the key does not exist. */
export class ArtifactNotFoundError extends Error {
  override name = 'ArtifactNotFoundError';
  constructor(readonly key: string) {
    super(`artifact ${key} does not exist`);
  }
}

/** A key/value store of artifacts (plans, plan JSON, summaries, results, logs). */
export interface ArtifactStore {
  /** Writes `body` under `key`, replacing what was there. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /**
   * The bytes under `key`.
   * @throws ArtifactNotFoundError when there is nothing under `key`
   */
  get(key: string): Promise<Uint8Array>;
}

// Keys come from artifactKeys, built from validated names; this guards the folder store
// against a key that would leave its root all the same.
function checkKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.includes('\0') || key.split('/').some((s) => s === '..' || s === '.')) {
    throw new Error(`invalid artifact key ${JSON.stringify(key)}`);
  }
}

/** Artifacts in a local folder: `<root>/<key>`, the layout of the S3 bucket. */
export class FolderArtifactStore implements ArtifactStore {
  /** @param root the folder holding the keys */
  constructor(readonly root: string) {}

  async put(key: string, body: Uint8Array | string): Promise<void> {
    checkKey(key);
    const file = path.join(this.root, key);
    await mkdir(path.dirname(file), { recursive: true });
    // Write then rename, so a reader never sees half a plan file.
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, body);
    await rename(tmp, file);
  }

  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    try {
      return await readFile(path.join(this.root, key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ArtifactNotFoundError(key);
      throw e;
    }
  }
}

/** Artifacts in an S3 bucket, optionally under a key prefix. */
export class S3ArtifactStore implements ArtifactStore {
  /**
   * @param client the S3 client (the task role's credentials)
   * @param bucket the artifacts bucket
   * @param prefix a prefix prepended to every key ("" or ending in "/")
   */
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
    readonly prefix = '',
  ) {}

  async put(key: string, body: Uint8Array | string): Promise<void> {
    checkKey(key);
    await this.client.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: body }),
    );
  }

  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      if (!res.Body) throw new ArtifactNotFoundError(key);
      return await res.Body.transformToByteArray();
    } catch (e) {
      if (e instanceof NoSuchKey || (e as { name?: string }).name === 'NoSuchKey') throw new ArtifactNotFoundError(key);
      throw e;
    }
  }
}

/**
 * The store named by a policy's `artifacts` URI: `s3://bucket[/prefix]` or `file:///dir`.
 * @param s3 the client to use for `s3://` (created with defaults when omitted)
 */
export function artifactStoreFromUri(uri: string, s3?: S3Client): ArtifactStore {
  if (uri.startsWith('s3://')) {
    const rest = uri.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    let prefix = slash < 0 ? '' : rest.slice(slash + 1);
    if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) throw new Error(`invalid artifacts bucket in ${uri}`);
    return new S3ArtifactStore(s3 ?? new S3Client({}), bucket, prefix);
  }
  if (uri.startsWith('file://')) return new FolderArtifactStore(fileURLToPath(uri));
  throw new Error(`unsupported artifacts location ${uri}; expected s3://bucket or file:///dir`);
}
