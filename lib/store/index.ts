/** The run table: key layout (./keys.ts) and the pipeline's store over it. */
export * from './keys';
export * from './run-store';
