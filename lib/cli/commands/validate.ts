import { relative } from 'node:path';
import type { Command } from 'commander';
import { PARTITION_PATTERN } from '../../domain/arns';
import { resolveConfigFile } from '../../operator/context';
import { BadOptionError } from '../../operator/errors';
import { loadConfig } from '../../config/loader';
import { ValidationReportSchema, validateWithRepository, type ValidationReport } from '../../operator/validate';
import { Output } from '../output';

interface ValidateOptions {
  readonly config?: string;
  readonly partition: string;
  readonly json?: boolean;
  readonly repo?: string;
}

/** Prints the report: one line per area, its problems below it. */
export function printValidation(out: Output, report: ValidationReport): void {
  for (const s of report.sections) {
    out.line(`${s.name.padEnd(11)} ${s.ok ? out.status('ok') : out.status('FAILED')}  ${s.summary}`);
    for (const p of s.problems) out.line(`  - ${p}`);
  }
  for (const graph of report.graphs ?? []) {
    out.line();
    out.line(`graph of ${graph.account} (${graph.root}), each module after what it depends on:`);
    const short = (m: string) => (m.startsWith(`${graph.root}/`) ? m.slice(graph.root.length + 1) : m);
    for (const module of graph.order) {
      const ups = graph.dependencies[module] ?? [];
      out.line(`  ${short(module)}${ups.length > 0 ? ` -> ${ups.map(short).join(', ')}` : ''}`);
    }
    if (graph.order.length === 0) out.line('  (no modules)');
  }
  const count = report.sections.reduce((n, s) => n + s.problems.length, 0);
  out.line();
  out.line(report.ok ? 'valid' : `${count} problem${count === 1 ? '' : 's'} found`);
}

/** Whether the config declares dependencies (rules, or terragrunt files that may hold them). */
function hasDependencies(file: string): boolean {
  try {
    const config = loadConfig(file);
    return config.dependsOn.length > 0 || config.runner.tool === 'terragrunt';
  } catch {
    return false;
  }
}

/** `tfstep validate`: the config, the allowlists and the pipeline definition, every problem listed. */
export function register(program: Command): void {
  program
    .command('validate')
    .description('check the config, the allowlists each runner will enforce, and the pipeline definition; lists every problem')
    .option('--config <file>', 'the tfstep config file (default: tfstep.yaml, then examples/tfstep.yaml)')
    .option('--partition <partition>', 'the AWS partition the definition is rendered for', 'aws')
    .option('--json', 'print stable JSON ({ file, ok, sections, graphs }) instead of text')
    .option('--repo <dir>', "a checkout of the infrastructure repository: check each account's module dependencies (from its working tree) and print each account's graph")
    .addHelpText('after', "\nWith --repo, a dependency cycle, a dependency on a path that is no module, or on another account's module is a problem (exit code 1).\nExit codes: 0 valid, 1 problems found (all listed), 2 bad input (no config file found, bad option).")
    .exitOverride()
    .action(async (opts: ValidateOptions) => {
      if (!PARTITION_PATTERN.test(opts.partition)) throw new BadOptionError('--partition', opts.partition, 'an AWS partition such as aws, aws-us-gov or aws-cn');
      const file = resolveConfigFile(opts.config);
      const report = ValidationReportSchema.parse(await validateWithRepository(file, opts.partition, opts.repo));
      const out = new Output();
      if (opts.repo === undefined && !opts.json && hasDependencies(file)) {
        out.note('module dependencies not checked: pass --repo <checkout of the infrastructure repository> to check them and print each account\'s graph');
      }
      const shown = { ...report, file: relative(process.cwd(), file) || file };
      if (opts.json) out.json(shown);
      else printValidation(out, shown);
      process.exitCode = report.ok ? 0 : 1;
    });
}
