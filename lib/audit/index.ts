export * from './errors';
export * from './local';
export * from './s3';
