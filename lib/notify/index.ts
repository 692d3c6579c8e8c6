/** Run notifications: message text, SNS publishing and GitHub commit statuses. */
export * from './errors';
export * from './format';
export * from './github-status';
export * from './links';
export * from './notifier';
export * from './pull-request-feedback';
