/** Builds the runner into one file for the image (`npm run build:runner`). */
import * as path from 'node:path';
import { build } from 'esbuild';

/** Where `npm run build:runner` writes the bundle; the Dockerfile copies it to /opt/tfstep/runner.js. */
export const DEFAULT_RUNNER_BUNDLE = path.join('dist', 'runner.js');

/**
 * Bundles runner/entrypoint.ts and everything it imports (the AWS SDK clients, zod) into one
 * CommonJS file for Node 22, so the image needs no node_modules.
 * @param outFile where the bundle is written
 */
export async function buildRunnerBundle(outFile: string): Promise<void> {
  await build({
    entryPoints: [path.resolve(__dirname, '..', '..', 'runner', 'entrypoint.ts')],
    outfile: outFile,
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'cjs',
    minify: false,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'warning',
  });
}

if (require.main === module) {
  buildRunnerBundle(process.argv[2] ?? DEFAULT_RUNNER_BUNDLE).catch((e: unknown) => {
    process.stderr.write(`${String(e)}\n`);
    process.exitCode = 1;
  });
}
