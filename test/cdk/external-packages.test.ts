/**
 * The pipeline function parses terragrunt files with an HCL parser that loads its WebAssembly
 * from its own package folder. Bundled the way the function is (esbuild, the parser left
 * external and copied beside the bundle with its dependencies), it must still parse.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { buildSync } from 'esbuild';
import { packageClosure } from '../../lib/constructs/tfstep-function';
import { HCL_PARSER_PACKAGE } from '../../lib/planning/dependencies';
import { removeTempDirs, ROOT, tempDir } from './support';

afterAll(removeTempDirs);

describe('packages shipped beside a function bundle', () => {
  it('finds the HCL parser and every package it depends on', () => {
    const names = packageClosure([HCL_PARSER_PACKAGE], ROOT).map((p) => p.name).sort();
    expect(names).toEqual(expect.arrayContaining(['@cdktf/hcl2json', 'fs-extra', 'graceful-fs', 'jsonfile', 'universalify']));
  });

  it('fails when a package is not installed, saying so', () => {
    expect(() => packageClosure(['no-such-package-tfstep'], ROOT)).toThrow(/package no-such-package-tfstep is not installed/);
  });

  it('lets a bundle outside the project parse terragrunt dependency blocks', () => {
    // GIVEN the discovery bundled by esbuild as the function is, the parser external and copied beside it
    const out = tempDir('tfstep-bundle-');
    const entry = join(out, 'entry.ts');
    writeFileSync(
      entry,
      `import { terragruntEdges } from ${JSON.stringify(join(ROOT, 'lib', 'planning', 'dependencies'))};\n` +
        `terragruntEdges('dev/us-east-1/app', 'dependency "vpc" {\\n  config_path = "../vpc"\\n}\\n').then((r) => process.stdout.write(JSON.stringify(r)));\n`,
    );
    buildSync({ entryPoints: [entry], bundle: true, platform: 'node', format: 'cjs', target: 'node22', minify: true, outfile: join(out, 'index.js'), external: [HCL_PARSER_PACKAGE], logLevel: 'error' });
    for (const p of packageClosure([HCL_PARSER_PACKAGE], ROOT)) {
      mkdirSync(dirname(join(out, 'node_modules', p.name)), { recursive: true });
      cpSync(p.dir, join(out, 'node_modules', p.name), { recursive: true });
    }
    // WHEN the bundle runs from there
    const stdout = execFileSync(process.execPath, [join(out, 'index.js')], { cwd: out, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
    // THEN the dependency is read
    expect(JSON.parse(stdout)).toEqual({ edges: [{ module: 'dev/us-east-1/app', upstream: 'dev/us-east-1/vpc', source: 'dev/us-east-1/app/terragrunt.hcl: dependency "vpc" config_path' }], problems: [] });
  });

  it('names the package in the pipeline function the same as the discovery requires it', () => {
    expect(readFileSync(join(ROOT, 'lib', 'planning', 'dependencies.ts'), 'utf8')).toContain(`require('${HCL_PARSER_PACKAGE}')`);
  });
});
