/**
 * The local mode's artifacts store: a folder with the S3 bucket's key layout, known to the
 * state machine by a bucket name of its own so a Distributed Map's ItemReader can name it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactStore } from '../../pipeline/deps';
import type { LocalObjects } from './engine';

/** The bucket name the local mode gives its artifacts folder. */
export const LOCAL_ARTIFACTS_BUCKET = 'tfstep-local-artifacts';

/** A folder's artifacts store and the engine's view of it as a bucket. */
export interface FolderArtifacts {
  readonly store: ArtifactStore;
  readonly objects: LocalObjects;
}

/** The artifacts store in `dir` (created when first written). A key that leaves `dir` is refused. */
export function folderArtifacts(dir: string): FolderArtifacts {
  const root = path.resolve(dir);
  const fileOf = (key: string): string => {
    const file = path.join(root, key);
    if (!file.startsWith(root + path.sep)) throw new Error(`artifact key ${JSON.stringify(key)} leaves the artifacts folder`);
    return file;
  };
  const get = async (key: string): Promise<Buffer | undefined> => readFile(fileOf(key)).catch(() => undefined);
  const store: ArtifactStore = {
    bucket: LOCAL_ARTIFACTS_BUCKET,
    get,
    put: async (key, body) => {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, body);
    },
  };
  return { store, objects: { get: (bucket, key) => (bucket === LOCAL_ARTIFACTS_BUCKET ? get(key) : Promise.resolve(undefined)) } };
}
