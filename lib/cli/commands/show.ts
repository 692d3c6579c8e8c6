import type { Command } from 'commander';
import { mayChangeMark } from '../../domain/replan';
import { openBackend } from '../../operator/backend';
import type { CommonOptions } from '../../operator/context';
import { PullRequestRunDetailSchema, type PullRequestRunDetail } from '../../operator/pull-requests';
import { RunDetailSchema, type RunDetail } from '../../operator/views';
import { addCommonOptions } from '../options';
import { Output, formatDuration, shortSha } from '../output';

interface ShowOptions extends CommonOptions {
  readonly json?: boolean;
}

function planText(plan: RunDetail['stages'][number]['accounts'][number]['modules'][number]['plan']): string {
  return plan ? `+${plan.add} ~${plan.change} -${plan.destroy}` : '';
}

type ModuleRow = RunDetail['stages'][number]['accounts'][number]['modules'][number];

/** "dev/app skipped: dev/network failed": the upstream's own status in the same phase, when shown. */
export function skippedLine(m: ModuleRow, siblings: readonly ModuleRow[]): string {
  const upstream = siblings.find((s) => s.path === m.skippedBecause && s.phase === m.phase);
  return `${m.path} skipped: ${m.skippedBecause ?? ''} ${upstream ? upstream.status.toLowerCase() : 'did not succeed'}`;
}

/** "approve" -> "approved", "reject" -> "rejected"; anything else as stored. */
function pastTense(decision: string): string {
  if (decision === 'approve') return 'approved';
  if (decision === 'reject') return 'rejected';
  return decision;
}

/** Prints `tfstep show` output: the run, then stages, accounts and modules. */
export function printRun(out: Output, run: RunDetail): void {
  const time = (t: string | null): string => (t ? t.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z') : '-');
  out.line(`${out.style('bold', run.execution)}  ${out.status(run.status)}  ${formatDuration(run.durationSeconds)}`);
  out.line(`  repository  ${run.repository ?? '-'}${run.branch ? ` @ ${run.branch}` : ''}  ${shortSha(run.commit)}`);
  out.line(`  started     ${time(run.startedAt)}${run.stoppedAt ? `   stopped ${time(run.stoppedAt)}` : ''}`);
  if (run.stage) out.line(`  stage       ${run.stage}`);
  if (run.links.console) out.line(`  console     ${run.links.console}`);
  if (run.stages.length === 0) {
    out.line();
    out.line('  no stage has run yet');
  }
  for (const stage of run.stages) {
    out.line();
    out.line(`  ${out.style('bold', `stage ${stage.name}`)}  ${out.status(stage.status)}  ${formatDuration(stage.durationSeconds)}`);
    if (stage.approval) {
      const decisions = stage.approval.decisions.map((d) => `${d.approver} ${pastTense(d.decision)}${d.comment ? ` ("${d.comment}")` : ''}`);
      out.line(`    approval  ${out.status(stage.approval.status)}  approvers: ${stage.approval.approvers.join(', ') || '-'}`);
      if (decisions.length > 0) out.line(`              ${decisions.join('; ')}`);
    }
    for (const w of stage.waves ?? []) {
      const parts = [`${w.accounts.length} account(s)`, w.failed.length ? `failed: ${w.failed.join(', ')}` : '', w.notStarted.length ? `never started: ${w.notStarted.length}` : ''];
      out.line(`    wave ${w.wave}  ${out.status(w.status)}  ${parts.filter(Boolean).join('; ')}`);
    }
    for (const account of stage.accounts) {
      const wave = stage.waves && account.wave !== null ? `  wave ${account.wave}` : '';
      out.line(`    ${account.name}  ${out.status(account.status)}  ${formatDuration(account.durationSeconds)}${wave}`);
      const width = Math.max(...account.modules.map((m) => m.path.length));
      for (const m of account.modules) {
        const cells = [m.path.padEnd(width), (m.phase ?? '').padEnd(14), out.status(m.status.padEnd(8)), planText(m.plan).padEnd(12), formatDuration(m.durationSeconds)];
        out.line(`      ${cells.join('  ').trimEnd()}`);
        if (m.mayChangeAfter) out.line(`        ${mayChangeMark(m.mayChangeAfter)}`);
        if (m.replan) {
          out.line(`        ${out.style('yellow', `planned again after its upstreams applied: ${planText(m.replan.plan)} (plan ${shortSha(m.replan.planSha256)}), approved ${m.replan.approvedPlan ? planText(m.replan.approvedPlan) : ''} (plan ${shortSha(m.replan.approvedSha256)}); waits for a new approval`)}`);
          for (const d of m.replan.differences) out.line(`          differs: ${d}`);
        }
        if (m.skippedBecause) out.line(`        ${out.style('yellow', skippedLine(m, account.modules))}`);
        else if (m.error) out.line(`        ${out.style('red', m.error)}`);
      }
    }
  }
  if (run.reason) {
    out.line();
    out.line(`  ${run.status === 'SUCCEEDED' ? 'result' : 'reason'}  ${run.reason}`);
  }
  if (run.hints.length > 0) {
    out.line();
    for (const hint of run.hints) out.line(`  next: ${hint}`);
  }
}

/** Prints `tfstep show` of a pull request run: the run, the check run, then each module's plan. */
export function printPullRequestRun(out: Output, run: PullRequestRunDetail): void {
  const time = (t: string | null): string => (t ? t.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z') : '-');
  out.line(`${out.style('bold', run.run)}  ${out.status(run.status)}  pull request #${run.pullRequest}`);
  out.line(`  repository  ${run.repository} @ ${run.headBranch}  ${shortSha(run.headSha)}  by ${run.author}`);
  out.line(`  title       ${run.title}`);
  out.line(`  started     ${time(run.startedAt)}${run.stoppedAt ? `   stopped ${time(run.stoppedAt)}` : ''}`);
  out.line(`  check run   ${run.conclusion ?? 'not completed'}${run.checkTitle ? `: ${run.checkTitle}` : ''}`);
  out.line(`  modules     ${run.targets} planned${run.notAllowed ? `, ${run.notAllowed} in accounts that do not plan pull requests` : ''}`);
  if (run.modules.length > 0) {
    out.line();
    out.table(
      ['STAGE', 'ACCOUNT', 'MODULE', 'PLAN', 'ADD', 'CHANGE', 'DESTROY'],
      run.modules.map((m) => [m.stage, m.account, m.module, m.reason ? `${m.status}: ${m.reason}` : m.status, String(m.add), String(m.change), String(m.destroy)]),
    );
  }
  if (run.reason) {
    out.line();
    out.line(`  reason  ${run.reason}`);
  }
}

/** `tfstep show <execution>`: stages, accounts, modules, plans, approvals and the failure reason. */
export function register(program: Command): void {
  const cmd = program
    .command('show')
    .description('show one execution: stages, then accounts, then modules, with plans, approvals and the failure reason; or one pull request run: each module\'s plan and the check run')
    .argument('<execution>', 'the execution name (or its ARN)')
    .option('--json', 'print stable JSON instead of text');
  addCommonOptions(cmd, { local: true });
  cmd.addHelpText('after', '\nExit codes: 0 shown (whatever the run status), 2 bad input (no such execution, options, config, no credentials).');
  cmd.action(async (execution: string, opts: ShowOptions) => {
    const out = new Output();
    const backend = await openBackend(opts);
    try {
      // A pull request run is in the run table under its own name; anything else is a pipeline run.
      const pullRequestRun = await backend.pullRequests.show(execution);
      if (pullRequestRun) {
        const prDetail = PullRequestRunDetailSchema.parse(pullRequestRun);
        if (opts.json) out.json(prDetail);
        else printPullRequestRun(out, prDetail);
        process.exitCode = 0;
        return;
      }
      const detail = RunDetailSchema.parse(await backend.runs.showRun(execution));
      if (opts.json) out.json(detail);
      else printRun(out, detail);
      process.exitCode = 0;
    } finally {
      await backend.close();
    }
  });
}
