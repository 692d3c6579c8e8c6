/**
 * End to end: a prod run behind an approval, decided from the command line with --local --as
 * while the run waits; `tfstep audit --local --json` then shows the decision and the apply with
 * who, channel, commit and plan hashes. The runner uses the terraform test double.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { runDecision } from '../../lib/cli/commands/approve';
import { readAudit } from '../../lib/cli/commands/audit';
import { main } from '../../lib/cli/main';
import type { AuditRecord } from '../../lib/domain/audit';
import { localRun } from '../../lib/local/ui/run';
import { doubleLog, makeInfraRepo, memoryIo, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, until } from './helpers';

jest.setTimeout(120_000);

const CONFIG = `version: 1
central: { account: "999999999999", region: us-east-1 }
repositories:
  - { provider: github, fullName: acme/live, cloneUrls: [https://github.com/acme/live.git], deployBranch: main }
stageOrder: [prod]
stages:
  prod:
    approval: { required: true, approvers: [alice@example.com, bob@example.com], minApprovals: 1 }
accounts:
  - { name: prod, id: "333333333333", region: us-east-1, stage: prod }
`;

describe('tfstep audit --local', () => {
  it('shows who approved the prod apply, through which channel, at which commit and which plan, and the apply itself', async () => {
    // GIVEN a prod run waiting for its approval
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, CONFIG);
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    const log = path.join(tempDir('log'), 'double.log');
    const io = memoryIo();
    const running = localRun({ configFile, repoDir: repo, approve: 'prompt', stateDir, env: runnerEnv(toolPathWithoutTerraform(), log), io: io.io });
    let execution = '';
    try {
      await until(() => io.stdout().includes('Decide as approver'), 60_000, 'the approval prompt');
      // The waiting run's name, as the state directory remembers it.
      execution = readdirSync(path.join(stateDir, 'executions')).map((f) => f.replace(/\.json$/, ''))[0] ?? '';
      expect(execution).toMatch(/^local-/);

      // WHEN alice approves from the command line as the local mode allows
      const decided = await runDecision('approve', execution, { local: true, stateDir, as: 'alice@example.com', comment: 'checked the plan' }, () => undefined);
      expect(decided.outcome).toBe('approved');
    } catch (e) {
      // The run must end whatever failed: reject at its prompt.
      io.stdin.write('1\nreject\n\n');
      await running;
      throw e;
    } finally {
      io.stdin.end();
    }
    const outcome = await running;

    // THEN the run applied prod
    expect(outcome.exitCode).toBe(0);
    expect(doubleLog(log)).toContain('prod/us-east-1/app apply');
    // AND the audit trail holds the decision and the apply
    const records = await readAudit({ local: true, stateDir });
    expect(records.map((r) => [r.kind, r.who, r.channel])).toEqual([
      ['decision', 'alice@example.com', 'cli'],
      ['apply', 'pipeline', 'local'],
    ]);
    const [decision, apply] = records as [AuditRecord, AuditRecord];
    const commitSha = execFileSync('git', ['-C', repo, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(decision).toMatchObject({ run: execution, stage: 'prod', decision: 'approve', comment: 'checked the plan', commit: commitSha, accounts: ['prod'] });
    expect(decision.plans).toEqual([{ account: 'prod', module: 'prod/us-east-1/app', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    // AND the apply applied exactly the approved plan
    expect(apply).toMatchObject({ run: execution, stage: 'prod', commit: commitSha, outcome: 'succeeded', accounts: ['prod'] });
    expect(apply.plans).toEqual([{ account: 'prod', module: 'prod/us-east-1/app', sha256: decision.plans[0]!.sha256, status: 'applied' }]);

    // AND `tfstep audit --local --json` prints the same records
    const printed: string[] = [];
    const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    try {
      expect(await main(['node', 'tfstep', 'audit', '--local', '--state-dir', stateDir, '--json', '--account', 'prod'])).toBe(0);
    } finally {
      spy.mockRestore();
    }
    const json = JSON.parse(printed.join('')) as { records: AuditRecord[] };
    expect(json.records.map((r) => r.id)).toEqual(records.map((r) => r.id));
  });
});
