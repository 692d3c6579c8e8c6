// The image's ENTRYPOINT runs the bundle of this file; the exit code is the contract with ECS.
import { EXIT } from '../lib/domain/runner-contract';
import { runRunner } from '../lib/runner/main';

runRunner(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`runner crashed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = EXIT.INFRA;
  },
);
