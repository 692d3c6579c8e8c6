/**
 * `npm run pin:runner`: resolves the runner's base image tag to the digest its registry serves
 * now, and writes that digest into every `FROM` of runner/Dockerfile. Needs Docker and network.
 *
 *   npm run pin:runner            rewrite runner/Dockerfile
 *   npm run pin:runner -- --check exit 1 if the Dockerfile's digest is not the registry's
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { DockerfileParser } from 'dockerfile-ast';

/** A runner of `docker` commands: returns stdout, throws on a non-zero exit. */
export type DockerRun = (args: string[]) => Promise<string>;

/** One `FROM` of the Dockerfile, as the pin needs it. */
export interface BaseImage {
  /** `name:tag` without the digest */
  ref: string;
  /** `sha256:<64 hex>`, or undefined when the FROM has none */
  digest: string | undefined;
  /** zero-based line of the FROM */
  line: number;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Every `FROM` of the Dockerfile that names a registry image (not an earlier stage). */
export function baseImages(dockerfile: string): BaseImage[] {
  const doc = DockerfileParser.parse(dockerfile);
  const stages = new Set<string>();
  const out: BaseImage[] = [];
  for (const from of doc.getFROMs()) {
    const name = from.getImageName() ?? '';
    const stage = from.getBuildStage();
    if (!stages.has(name)) {
      const tag = from.getImageTag();
      out.push({ ref: tag ? `${name}:${tag}` : name, digest: from.getImageDigest() ?? undefined, line: from.getRange().start.line });
    }
    if (stage) stages.add(stage);
  }
  return out;
}

/**
 * The digest of `docker buildx imagetools inspect <ref>`: the image index (all platforms), the
 * value a `FROM name:tag@digest` must carry to be pulled on any platform.
 */
export function parseImagetoolsDigest(output: string): string {
  const m = /^Digest:\s+(sha256:[0-9a-f]{64})\s*$/m.exec(output);
  if (!m?.[1]) throw new Error(`no "Digest: sha256:..." line in the output of docker buildx imagetools inspect:\n${output.slice(0, 500)}`);
  return m[1];
}

/** Writes `digest` into every FROM that pulls `ref`, leaving the rest of the file as it was. */
export function pinDigest(dockerfile: string, ref: string, digest: string): string {
  if (!DIGEST.test(digest)) throw new Error(`not an image digest: ${digest} (expected sha256: and 64 lowercase hex digits)`);
  const lines = dockerfile.split('\n');
  const targets = baseImages(dockerfile).filter((b) => b.ref === ref);
  if (targets.length === 0) throw new Error(`no FROM pulls ${ref}`);
  for (const t of targets) {
    const old = lines[t.line] ?? '';
    const escaped = ref.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const next = old.replace(new RegExp(`${escaped}(@sha256:[0-9a-f]{64})?(?=\\s|$)`), `${ref}@${digest}`);
    if (next === old && !old.includes(`${ref}@${digest}`)) throw new Error(`cannot rewrite line ${t.line + 1}: ${old}`);
    lines[t.line] = next;
  }
  return lines.join('\n');
}

/** Resolves each base image of the Dockerfile through Docker and returns the rewritten text. */
export async function resolvePins(dockerfile: string, docker: DockerRun): Promise<{ text: string; changes: string[] }> {
  let text = dockerfile;
  const changes: string[] = [];
  const refs = [...new Set(baseImages(dockerfile).map((b) => b.ref))];
  for (const ref of refs) {
    const digest = parseImagetoolsDigest(await docker(['buildx', 'imagetools', 'inspect', ref]));
    const before = text;
    text = pinDigest(text, ref, digest);
    if (text !== before) changes.push(`${ref} -> ${digest}`);
  }
  return { text, changes };
}

async function main(argv: string[]): Promise<number> {
  const file = path.resolve(__dirname, 'Dockerfile');
  const run = promisify(execFile);
  const docker: DockerRun = async (args) => (await run('docker', args, { encoding: 'utf8' })).stdout;
  const { text, changes } = await resolvePins(readFileSync(file, 'utf8'), docker);
  if (changes.length === 0) {
    console.log('runner/Dockerfile: every base image is pinned to the digest its registry serves now');
    return 0;
  }
  for (const c of changes) console.log(`runner/Dockerfile: ${c}`);
  if (argv.includes('--check')) return 1;
  writeFileSync(file, text);
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(`pin:runner: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = 1;
    },
  );
}
