import { relative } from 'node:path';
import type { Command } from 'commander';
import { PARTITION_PATTERN } from '../../domain/arns';
import { resolveConfigFile } from '../../operator/context';
import { BadOptionError } from '../../operator/errors';
import { ValidationReportSchema, validateAll, type ValidationReport } from '../../operator/validate';
import { Output } from '../output';

interface ValidateOptions {
  readonly config?: string;
  readonly partition: string;
  readonly json?: boolean;
}

/** Prints the report: one line per area, its problems below it. */
export function printValidation(out: Output, report: ValidationReport): void {
  for (const s of report.sections) {
    out.line(`${s.name.padEnd(11)} ${s.ok ? out.status('ok') : out.status('FAILED')}  ${s.summary}`);
    for (const p of s.problems) out.line(`  - ${p}`);
  }
  const count = report.sections.reduce((n, s) => n + s.problems.length, 0);
  out.line();
  out.line(report.ok ? 'valid' : `${count} problem${count === 1 ? '' : 's'} found`);
}

/** `tfstep validate`: the config, the allowlists and the pipeline definition, every problem listed. */
export function register(program: Command): void {
  program
    .command('validate')
    .description('check the config, the allowlists each runner will enforce, and the pipeline definition; lists every problem')
    .option('--config <file>', 'the tfstep config file (default: tfstep.yaml, then examples/tfstep.yaml)')
    .option('--partition <partition>', 'the AWS partition the definition is rendered for', 'aws')
    .option('--json', 'print stable JSON ({ file, ok, sections }) instead of text')
    .addHelpText('after', '\nExit codes: 0 valid, 1 problems found (all listed), 2 bad input (no config file found, bad option).')
    .exitOverride()
    .action((opts: ValidateOptions) => {
      if (!PARTITION_PATTERN.test(opts.partition)) throw new BadOptionError('--partition', opts.partition, 'an AWS partition such as aws, aws-us-gov or aws-cn');
      const file = resolveConfigFile(opts.config);
      const report = ValidationReportSchema.parse(validateAll(file, opts.partition));
      const out = new Output();
      const shown = { ...report, file: relative(process.cwd(), file) || file };
      if (opts.json) out.json(shown);
      else printValidation(out, shown);
      process.exitCode = report.ok ? 0 : 1;
    });
}
