import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type ICommandHooks } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { InvalidPropsError } from './errors';

/** Props of {@link TfstepFunction}. */
export interface TfstepFunctionProps {
  /** Absolute path of the handler file; it must export `handler`. */
  readonly entry: string;
  /** Shown in the console; say what triggers the function. */
  readonly description: string;
  /** Environment variables, read by the handler through a helper that throws when one is missing. */
  readonly environment: Readonly<Record<string, string>>;
  /** @default - 30 seconds */
  readonly timeoutSeconds?: number;
  /** @default - 512 MiB */
  readonly memoryMiB?: number;
  /**
   * Concurrency set aside for this function, which is also its ceiling.
   * @default - none: the account's unreserved pool
   */
  readonly reservedConcurrency?: number;
  /** @default - one month */
  readonly logRetention?: logs.RetentionDays;
  /** @default - the stack's project root (where package-lock.json is) */
  readonly projectRoot?: string;
  /**
   * Files written beside the bundled handler (name -> content), for data too large for the
   * 4 KiB Lambda environment, such as the config.
   * @default - none
   */
  readonly bundledFiles?: Readonly<Record<string, string>>;
  /**
   * npm packages left out of the bundle and copied, with the packages they depend on, into
   * `node_modules` beside the handler: packages that read their own files at run time, which a
   * bundle would leave behind (the HCL parser loads its WebAssembly from its package folder).
   * @default - none
   */
  readonly externalPackages?: readonly string[];
}

/** The folder of package `name` as Node resolves it from `fromDir`: the nearest `node_modules/<name>` above it. */
function packageDir(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The folders of `names` and of every package they depend on (their `dependencies`, resolved as
 * Node resolves them), each once, as paths relative to the `node_modules` they were found in.
 * @throws InvalidPropsError when a package is not installed
 */
export function packageClosure(names: readonly string[], fromDir: string): { dir: string; name: string }[] {
  const found = new Map<string, { dir: string; name: string }>();
  const queue = names.map((name) => ({ name, from: fromDir }));
  while (queue.length > 0) {
    const { name, from } = queue.shift()!;
    const dir = packageDir(name, from);
    if (dir === undefined) throw new InvalidPropsError('externalPackages', [`package ${name} is not installed (looked in node_modules above ${from}); run npm ci`]);
    if (found.has(dir)) continue;
    // Nested copies (node_modules/a/node_modules/b) land at the same relative place.
    const modulesRoot = dir.slice(0, dir.lastIndexOf(join('node_modules', name))) + 'node_modules';
    found.set(dir, { dir, name: relative(modulesRoot, dir) });
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(manifest.dependencies ?? {})) queue.push({ name: dep, from: dir });
  }
  return [...found.values()];
}

/**
 * A tfstep Lambda function: Node.js 22 on ARM64, bundled on this machine by esbuild (never in
 * Docker), with its own role and an explicit log group, so the role carries no managed policy
 * and the log group has a retention.
 */
export class TfstepFunction extends Construct {
  /** The runtime every tfstep function uses (the handlers are tested against Node 22). */
  static readonly RUNTIME = lambda.Runtime.NODEJS_22_X;

  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: TfstepFunctionProps) {
    super(scope, id);
    if (!existsSync(props.entry)) {
      throw new InvalidPropsError(this.node.path, [`handler file ${props.entry} does not exist; expected a TypeScript file exporting "handler"`]);
    }
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    });
    // Written by hand instead of AWSLambdaBasicExecutionRole: only this function's own log group.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.function = new NodejsFunction(this, 'Function', {
      entry: props.entry,
      handler: 'handler',
      description: props.description,
      runtime: TfstepFunction.RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memoryMiB ?? 512,
      timeout: Duration.seconds(props.timeoutSeconds ?? 30),
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      projectRoot: props.projectRoot,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.CJS,
        target: 'node22',
        minify: true,
        sourceMap: true,
        // The Lambda runtime ships an SDK, but bundling pins the version the code was tested with.
        externalModules: [...(props.externalPackages ?? [])],
        commandHooks:
          props.bundledFiles || props.externalPackages?.length
            ? copyFilesHooks(props.bundledFiles ?? {}, packageClosure(props.externalPackages ?? [], props.projectRoot ?? __dirname))
            : undefined,
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to Node.js 22, the runtime the handlers are bundled for (esbuild target node22) and tested against; moved deliberately with the test matrix.',
    });
  }
}

/** Bundling hooks that copy the given files, and the given package folders under node_modules, into the function's output folder. */
function copyFilesHooks(files: Readonly<Record<string, string>>, packages: readonly { dir: string; name: string }[] = []): ICommandHooks {
  const dir = mkdtempSync(join(tmpdir(), 'tfstep-bundled-'));
  const sources: string[] = [];
  for (const [name, content] of Object.entries(files)) {
    if (basename(name) !== name) throw new InvalidPropsError('bundledFiles', [`file name ${JSON.stringify(name)} must not contain a path`]);
    const source = join(dir, name);
    writeFileSync(source, content);
    sources.push(source);
  }
  return {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: (_inputDir: string, outputDir: string) => [
      ...sources.map((source) => `cp "${source}" "${outputDir}/${basename(source)}"`),
      ...packages.flatMap((p) => [`mkdir -p "${dirname(join(outputDir, 'node_modules', p.name))}"`, `cp -R "${p.dir}" "${join(outputDir, 'node_modules', p.name)}"`]),
    ],
  };
}
