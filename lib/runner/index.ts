/** The runner's public surface, for the entrypoint, the local mode and tests. */
export { runRunner, IMAGE_SEARCH_PATH, PLAN_FILE, sha256Hex, type RunnerDeps } from './main';
export { runnerCommand, runnerTask, spawnRunner, type RunnerCommand, type SpawnRunnerOptions } from './spawn';
export { ArtifactNotFoundError, FolderArtifactStore, S3ArtifactStore, artifactStoreFromUri, type ArtifactStore } from './artifacts';
export { manifestFor, readManifest, type WrittenManifest } from './manifest';
export { DynamoPlanRecordStore, FolderPlanRecordStore, planRecordStoreFromUri, type PlanRecordStore } from './plan-records';
export { TEST_DOUBLE_ENV, MODULE_PATH_ENV } from './inputs';
export { buildRunnerBundle } from './build';
