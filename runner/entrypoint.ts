// The image's ENTRYPOINT runs the bundle of this file; the exit code is the contract with ECS.
import { EXIT } from '../lib/domain/runner-contract';
import { runRunner } from '../lib/runner/main';

// A reader that goes away (the local tfstep process killed, its pipes closed) must not kill the
// runner: a write would fail with EPIPE, and an unhandled stream error would end the runner while
// terraform still holds its state lock. The runner goes on: it stops terraform when asked, and
// its lines are still kept for the log artifact.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

runRunner(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    console.error(`runner crashed: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = EXIT.INFRA;
  },
);
