export * from './credentials';
export * from './errors';
export * from './github-app';
export * from './http-credentials';
