/**
 * End to end: `tfstep local run --json` reports how close a run came to each AWS limit, and
 * fails a breach before anything runs, with the error AWS would answer.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse, stringify } from 'yaml';
import { AWS_LIMITS, LIMIT_NAMES } from '../../lib/domain/aws-limits';
import { localRun } from '../../lib/local/ui/run';
import { commit, makeInfraRepo, memoryIo, moduleTf, runnerEnv, stateDirWithBundle, tempDir, toolPathWithoutTerraform, TWO_DEV_CONFIG } from './helpers';

jest.setTimeout(180_000);

const GIT_IDENTITY = { GIT_AUTHOR_NAME: 'Pat Pusher', GIT_AUTHOR_EMAIL: 'pat@example.com', GIT_COMMITTER_NAME: 'Pat Pusher', GIT_COMMITTER_EMAIL: 'pat@example.com' };

interface Use {
  max: number;
  limit: number;
}

describe('tfstep local run limits', () => {
  const bin = toolPathWithoutTerraform();

  it('runs a push with a 150 KB commit message to SUCCEEDED, with every limit reported under its AWS value', async () => {
    // GIVEN a commit whose message is 150 KB
    const repo = makeInfraRepo();
    commit(repo, { 'dev-a/us-east-1/app/main.tf': moduleTf('app', 'v2') }, 'dev-a: new input');
    // (a message this long does not fit a command line: amend it from a file)
    const messageFile = path.join(tempDir('message'), 'message.txt');
    writeFileSync(messageFile, `dev-a: new input\n\n${'a long explanation. '.repeat(7680)}`);
    execFileSync('git', ['-C', repo, '-c', 'commit.gpgsign=false', 'commit', '-q', '--amend', '-F', messageFile], { env: { ...process.env, ...GIT_IDENTITY } });
    const stateDir = await stateDirWithBundle();
    const out = memoryIo();
    // WHEN it runs with --json
    const outcome = await localRun({ configFile: TWO_DEV_CONFIG, repoDir: repo, approve: 'auto', stateDir, json: true, env: runnerEnv(bin, path.join(tempDir('log'), 'double.log')), io: out.io });
    // THEN it succeeds, and every limit is reported with its AWS value and a figure under it
    const report = JSON.parse(out.stdout()) as { status: string; limits: Record<string, Use> };
    expect(outcome.exitCode).toBe(0);
    expect(report.status).toBe('SUCCEEDED');
    expect(Object.keys(report.limits).sort()).toEqual([...LIMIT_NAMES].sort());
    expect(report.limits.runTaskOverridesChars!.limit).toBe(8192);
    expect(report.limits.statePayloadBytes!.limit).toBe(262_144);
    expect(report.limits.historyEvents!.limit).toBe(25_000);
    expect(report.limits.dynamoItemBytes!.limit).toBe(409_600);
    expect(report.limits.snsMessageBytes!.limit).toBe(262_144);
    expect(report.limits.eventBridgeEntryBytes!.limit).toBe(262_144);
    expect(report.limits.ssmParameterBytes!.limit).toBe(AWS_LIMITS.ssmParameterBytes.Standard);
    for (const [name, use] of Object.entries(report.limits)) {
      // Every figure was measured (each limit was met on the way), and stayed under its value.
      expect([name, use.max > 0]).toEqual([name, true]);
      expect([name, use.max <= use.limit]).toEqual([name, true]);
    }
    // The message was cut to the push budget, so the event and the states stay small.
    expect(report.limits.eventBridgeEntryBytes!.max).toBeLessThan(64 * 1024);
  });

  it('refuses a config whose runner policy passes the 4 KB SSM Standard parameter, with ValidationException, before anything runs', async () => {
    // GIVEN a config with 80 repositories: every account's runner policy lists all their URLs
    const config = parse(readFileSync(TWO_DEV_CONFIG, 'utf8')) as { repositories: Record<string, unknown>[] };
    const extra = Array.from({ length: 80 }, (_, i) => ({ provider: 'github', fullName: `acme/service-${i}`, cloneUrls: [`https://github.com/acme/service-with-a-long-name-${i}.git`], deployBranch: 'main' }));
    config.repositories = [...config.repositories, ...extra];
    const configFile = path.join(tempDir('config'), 'tfstep.yaml');
    writeFileSync(configFile, stringify(config));
    const repo = makeInfraRepo();
    const stateDir = await stateDirWithBundle();
    // WHEN a push runs
    const run = localRun({ configFile, repoDir: repo, repository: 'acme/live', approve: 'auto', stateDir, json: true, env: runnerEnv(bin, path.join(tempDir('log'), 'double.log')), io: memoryIo().io });
    // THEN it fails as PutParameter would, naming the account and the sizes
    await expect(run).rejects.toMatchObject({ name: 'ValidationException', limit: 'ssmParameterBytes' });
    await expect(run).rejects.toThrow(/runner policy of dev-a: \d{4,} bytes/);
  });
});
