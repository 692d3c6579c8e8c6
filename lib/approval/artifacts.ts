import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';
import type { ArtifactReader } from './types';

/** Reads artifacts from the artifacts bucket; a missing key is undefined, not an error. */
export class S3ArtifactReader implements ArtifactReader {
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
  ) {}

  /** {@inheritDoc ArtifactReader.get} */
  async get(key: string): Promise<string | undefined> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await out.Body?.transformToString('utf8');
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return undefined;
      throw err;
    }
  }
}

/** Reads artifacts from a map (tests) or any function (the local mode's folder). */
export class FunctionArtifactReader implements ArtifactReader {
  constructor(private readonly read: (key: string) => Promise<string | undefined>) {}

  /** {@inheritDoc ArtifactReader.get} */
  get(key: string): Promise<string | undefined> {
    return this.read(key);
  }
}
