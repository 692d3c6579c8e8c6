import { CHECK_RUN_SUMMARY_LIMIT, renderPullRequestSummary, type PlanRow } from '../../lib/domain/pull-request-summary';
import { artifactKeys } from '../../lib/domain/runner-contract';
import { executionArnOf, executionConsoleUrl, s3ObjectConsoleUrl } from '../../lib/notify/links';

const SHA = 'ec26c3e57ca3a959ca5aad62de7213c562f8c821';

function row(over: Partial<PlanRow> & Pick<PlanRow, 'account' | 'module'>): PlanRow {
  return { stage: 'dev', status: 'changes', add: 0, change: 0, destroy: 0, ...over };
}

/** The table rows of a summary, in order. */
function tableRows(summary: string): string[] {
  return summary.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Stage') && !l.startsWith('| ---'));
}

/**
 * 1,000 accounts with 3 modules each: every tenth destroys (with four addresses), the rest add,
 * and one module of each is clean. `logUrl` links each module's log.
 */
function thousandAccounts(logUrl: (account: string, module: string) => string): PlanRow[] {
  const rows: PlanRow[] = [];
  for (let i = 0; i < 1000; i++) {
    const account = `acct-${String(i).padStart(4, '0')}`;
    const stage = i < 100 ? 'dev' : i < 500 ? 'stage' : 'prod';
    const destroys = i % 10 === 0;
    rows.push(
      row({
        stage,
        account,
        module: `${account}/us-east-1/network`,
        add: 2,
        destroy: destroys ? 1 + (i % 7) : 0,
        ...(destroys ? { destroyed: [`aws_subnet.private["${i}"]`, 'aws_route_table.private', 'aws_nat_gateway.main', 'aws_eip.nat'] } : {}),
        logUrl: logUrl(account, `${account}/us-east-1/network`),
      }),
      row({ stage, account, module: `${account}/us-east-1/app`, add: 1 + (i % 5), change: i % 3, logUrl: logUrl(account, `${account}/us-east-1/app`) }),
      row({ stage, account, module: `${account}/us-east-1/dns`, status: 'clean' }),
    );
  }
  return rows;
}

describe('pull request summary', () => {
  it('lists destroys and replacements first, folds modules without changes, and links each log', () => {
    // GIVEN a dev module that adds, a prod module that destroys, one that replaces, and a clean one
    const rows: PlanRow[] = [
      row({ account: 'dev', module: 'dev/us-east-1/app', add: 3, logUrl: 'https://logs.example.com/dev/app' }),
      row({ stage: 'prod', account: 'prod', module: 'prod/us-east-1/db', destroy: 1, destroyed: ['aws_db_instance.main'], logUrl: 'https://logs.example.com/prod/db' }),
      row({ stage: 'prod', account: 'prod', module: 'prod/us-east-1/app', add: 1, destroy: 1, replaced: ['aws_instance.web["a"]'] }),
      row({ account: 'dev', module: 'dev/us-east-1/network', status: 'clean' }),
    ];

    // WHEN rendered
    const out = renderPullRequestSummary({ number: 7, headSha: SHA, stageOrder: ['dev', 'prod'], rows });

    // THEN the destroying rows come first, the clean module is only in the folded block, and logs are linked
    const lines = tableRows(out.summary);
    expect(lines.map((l) => l.split(' | ')[2])).toEqual(['`prod/us-east-1/app`', '`prod/us-east-1/db`', '`dev/us-east-1/app`']);
    expect(lines[1]).toContain('destroy `aws_db_instance.main`');
    expect(lines[1]).toContain('[log](https://logs.example.com/prod/db)');
    expect(lines[0]).toContain('replace `aws_instance.web["a"]`');
    expect(out.summary).toContain('<details><summary>1 module without changes in 1 account</summary>');
    expect(out.summary.startsWith('**Plan of #7 at `ec26c3e57ca3`**: 4 to add, 0 to change, 2 to destroy, in 3 modules with changes across 2 accounts.')).toBe(true);
    expect(out.title).toBe('4 to add, 0 to change, 2 to destroy in 2 accounts');
    expect(out.conclusion).toBe('success');
  });

  it('concludes failure when a plan failed, and neutral on policy warnings alone', () => {
    // GIVEN one failed plan, and separately a policy warning with no failure
    const failed = renderPullRequestSummary({
      number: 1,
      headSha: SHA,
      stageOrder: ['dev'],
      rows: [row({ account: 'dev', module: 'm', status: 'failed', reason: 'Error: Unsupported argument | at line 3' })],
    });
    const warned = renderPullRequestSummary({ number: 1, headSha: SHA, stageOrder: ['dev'], rows: [row({ account: 'dev', module: 'm', add: 1 })], policyWarnings: ['prod destroys a database'] });

    // THEN the conclusions follow, and the failure reason is escaped inside its cell
    expect(failed.conclusion).toBe('failure');
    expect(failed.title).toBe('1 plan failed; 0 to add, 0 to change, 0 to destroy');
    expect(tableRows(failed.summary)[0]).toContain('Error: Unsupported argument \\| at line 3');
    expect(warned.conclusion).toBe('neutral');
    expect(warned.summary).toContain(':warning: prod destroys a database');
  });

  it('keeps a 1,000-account summary under 65,535 characters, destroys first, with the rest counted', () => {
    // GIVEN 1,000 accounts with 3 modules each: every tenth destroys, the rest add, and one module of each is clean
    const rows = thousandAccounts((account, module) => `https://logs.example.com/runs/pr-7/${account}/${module.split('/').pop()!}`);

    // WHEN rendered
    const out = renderPullRequestSummary({ number: 7, headSha: SHA, stageOrder: ['dev', 'stage', 'prod'], rows, runUrl: 'https://console.example.com/runs/pr-7' });

    // THEN it fits GitHub's limit in characters and in bytes
    expect(out.summary.length).toBeLessThanOrEqual(CHECK_RUN_SUMMARY_LIMIT);
    expect(Buffer.byteLength(out.summary)).toBeLessThanOrEqual(CHECK_RUN_SUMMARY_LIMIT);
    // AND every one of the 100 destroying modules is listed before any module that only adds
    const lines = tableRows(out.summary);
    expect(lines.length).toBe(out.listed);
    expect(lines.slice(0, 100).every((l) => l.includes(':warning: destroys'))).toBe(true);
    expect(lines.slice(100).some((l) => l.includes(':warning: destroys'))).toBe(false);
    const destroyCounts = lines.slice(0, 100).map((l) => Number(l.split(' | ')[6]));
    expect(destroyCounts).toEqual([...destroyCounts].sort((a, b) => b - a));
    // AND the rest is counted, with their changes, not dropped silently
    expect(out.listed + out.counted).toBe(2000);
    expect(out.counted).toBeGreaterThan(0);
    const unlisted = rows.filter((r) => r.status === 'changes').length - out.listed;
    expect(out.summary).toContain(`…and ${unlisted} more modules not listed (`);
    expect(out.summary).toContain('1000 modules without changes in 1000 accounts');
    expect(out.summary.endsWith('[Full run](https://console.example.com/runs/pr-7)')).toBe(true);
  });

  it('keeps a 1,000-account summary with AWS console links and the logs command under 65,535 bytes, each listed row with its link', () => {
    // GIVEN the 1,000 accounts, each module's row linking its task's plan log in the S3 console (a
    // run name of Step Functions' 80 characters, a task name of 70 and a suffix), the run's
    // console page and the logs command
    const run = `pr-${'acme-infrastructure-live'.padEnd(50, 'x')}-7-ec26c3e57ca3-mhx1abcd`.slice(0, 80);
    const logUrl = (account: string) => s3ObjectConsoleUrl('aws-us-gov', 'us-gov-west-1', 'tfstep-artifacts-111111111111-us-gov-west-1', artifactKeys.log(`${run.slice(0, 70)}-999`, account, 'plan'));
    const rows = thousandAccounts(logUrl);
    const runUrl = executionConsoleUrl(executionArnOf('arn:aws-us-gov:states:us-gov-west-1:111111111111:stateMachine:tfstep-plan-only', run));
    const short = renderPullRequestSummary({ number: 7, headSha: SHA, stageOrder: ['dev', 'stage', 'prod'], rows: thousandAccounts(() => 'https://l.example/x') });

    // WHEN rendered
    const out = renderPullRequestSummary({ number: 7, headSha: SHA, stageOrder: ['dev', 'stage', 'prod'], rows, runUrl, logsCommand: `tfstep logs ${run}` });

    // THEN it fits GitHub's limit in bytes
    expect(Buffer.byteLength(out.summary)).toBeLessThanOrEqual(CHECK_RUN_SUMMARY_LIMIT);
    // AND every listed row has its whole link, and the longer links list fewer rows than short ones
    const lines = tableRows(out.summary);
    expect(lines.length).toBe(out.listed);
    expect(lines.every((l) => l.endsWith(`| [log](${logUrl(l.split(' | ')[1]!)}) |`))).toBe(true);
    expect(out.listed).toBeLessThan(short.listed);
    expect(out.listed + out.counted).toBe(2000);
    // AND it ends with the run's page and the command
    expect(out.summary.endsWith(`[Full run](${runUrl})\n\nThe plan logs from a terminal: \`tfstep logs ${run}\` (\`--account\` and \`--module\` narrow it).`)).toBe(true);
  });

  it('keeps the run\'s page and the logs command when the budget is small', () => {
    // GIVEN rows with long log links and a 3,000-byte budget
    const rows = Array.from({ length: 40 }, (_, i) => row({ account: `a${i}`, module: `m${i}`, add: 40 - i, logUrl: `https://console.example.com/s3/object/bucket?prefix=${'k'.repeat(200)}${i}` }));
    const out = renderPullRequestSummary({ number: 1, headSha: SHA, stageOrder: ['dev'], rows, limitBytes: 3000, runUrl: `https://console.example.com/${'r'.repeat(150)}`, logsCommand: `tfstep logs pr-${'x'.repeat(77)}` });
    // THEN it fits, counts what did not, and still ends with the run's page and the command
    expect(Buffer.byteLength(out.summary)).toBeLessThanOrEqual(3000);
    expect(out.counted).toBeGreaterThan(0);
    expect(out.summary).toContain(`[Full run](https://console.example.com/${'r'.repeat(150)})`);
    expect(out.summary).toMatch(/`tfstep logs pr-x{77}` \(`--account` and `--module` narrow it\)\.$/);
  });

  it('counts the rest under a small budget whatever the width of the characters', () => {
    // GIVEN module names in multi-byte characters and a 2,000-byte budget
    const rows = Array.from({ length: 50 }, (_, i) => row({ account: `a${i}`, module: `модуль/${'ü'.repeat(40)}/${i}`, add: 50 - i }));

    // WHEN rendered
    const out = renderPullRequestSummary({ number: 1, headSha: SHA, stageOrder: ['dev'], rows, limitBytes: 2000 });

    // THEN it fits in bytes, lists the largest first, and counts the others
    expect(Buffer.byteLength(out.summary)).toBeLessThanOrEqual(2000);
    expect(out.listed).toBeGreaterThan(0);
    expect(out.listed + out.counted).toBe(50);
    expect(tableRows(out.summary)[0]).toContain('| 50 |');
  });

  it('keeps a reason with newlines and markup to one escaped cell', () => {
    // GIVEN a row whose reason has a newline and markup
    const out = renderPullRequestSummary({
      number: 1,
      headSha: SHA,
      stageOrder: ['dev'],
      rows: [row({ account: 'dev', module: 'm', status: 'skipped', reason: 'held by a deploy\n<script>x</script>' })],
    });

    // THEN the reason stays one escaped cell
    const lines = tableRows(out.summary);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('held by a deploy &lt;script&gt;x&lt;/script&gt;');
  });
});
