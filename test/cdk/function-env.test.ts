// The central stack against the reading side: each function's synthesized Environment holds
// every variable its dependency builder declares required, and that declaration is what the
// builder really refuses to start without.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib';
import type { TfstepApp } from '../../lib/app';
import { APPROVAL_ENV_READS, createAwsApprovalDeps } from '../../lib/approval/deps';
import { silentLogger as silentApprovalLogger } from '../../lib/approval/types';
import { FUNCTION_ENV, type FunctionEnvReads } from '../../lib/domain/function-env';
import { BUNDLED_CONFIG_FILE, EnvError } from '../../lib/env';
import { createAwsPipelineDeps, PIPELINE_ENV_READS } from '../../lib/pipeline/aws-deps';
import { silentPipelineLogger } from '../../lib/pipeline/deps';
import type { CentralStack } from '../../lib/stacks/central-stack';
import type { TfstepFunction } from '../../lib/constructs/tfstep-function';
import { createAwsWebhookDeps, WEBHOOK_ENV_READS } from '../../lib/webhook/deps';
import { silentLogger as silentWebhookLogger } from '../../lib/log';
import { buildExampleApp, removeTempDirs, render } from './support';

type Env = Record<string, string | undefined>;

interface Reader {
  readonly reads: FunctionEnvReads;
  /** The deployed function's own dependency builder. */
  readonly build: (env: Env) => unknown;
  readonly fn: (stack: CentralStack) => TfstepFunction;
}

const READERS: Record<string, Reader> = {
  webhook: { reads: WEBHOOK_ENV_READS, build: (env) => createAwsWebhookDeps(env, {}, silentWebhookLogger), fn: (s) => s.webhookFunction },
  approval: { reads: APPROVAL_ENV_READS, build: (env) => createAwsApprovalDeps(env, {}, silentApprovalLogger), fn: (s) => s.approvalFunction },
  pipeline: { reads: PIPELINE_ENV_READS, build: (env) => createAwsPipelineDeps(env, silentPipelineLogger), fn: (s) => s.pipelineFunction },
};

describe('central function environments', () => {
  let built: TfstepApp;
  let template: Template;
  let taskRoot: string;

  beforeAll(() => {
    built = buildExampleApp();
    template = Template.fromStack(built.central);
    // The config the functions find beside their handler, as the stack bundles it.
    taskRoot = mkdtempSync(join(tmpdir(), 'tfstep-task-root-'));
    writeFileSync(join(taskRoot, BUNDLED_CONFIG_FILE), JSON.stringify(built.config));
  });

  afterAll(() => {
    removeTempDirs();
    rmSync(taskRoot, { recursive: true, force: true });
  });

  /** The synthesized Environment of one function, intrinsics rendered to strings. */
  function environmentOf(fn: TfstepFunction): Env {
    const id = built.central.getLogicalId(fn.function.node.defaultChild as CfnElement);
    const props = template.toJSON().Resources[id].Properties as { Environment?: { Variables?: unknown } };
    return render(props.Environment?.Variables ?? {}) as Env;
  }

  describe.each(Object.entries(READERS))('%s function', (_name, reader) => {
    it('is given every variable its reader requires, and no tfstep variable its reader does not declare', () => {
      // WHEN the stack is synthesized
      const env = environmentOf(reader.fn(built.central));
      // THEN each required variable is set, and no TFSTEP_ variable the function never reads
      // (NODE_OPTIONS and the like belong to the runtime)
      const declared: readonly string[] = [...reader.reads.required, ...reader.reads.optional];
      expect(reader.reads.required.filter((v) => !env[v])).toEqual([]);
      expect(Object.keys(env).filter((v) => v.startsWith('TFSTEP_') && !declared.includes(v))).toEqual([]);
    });

    it('starts from exactly the synthesized environment and the bundled config', () => {
      // GIVEN the Environment as deployed, with the bundle's folder
      const env = { ...environmentOf(reader.fn(built.central)), LAMBDA_TASK_ROOT: taskRoot };
      // WHEN / THEN the function's own dependency builder accepts it
      expect(() => reader.build(env)).not.toThrow();
    });

    it('declares as required exactly what its reader refuses to start without', () => {
      // GIVEN only the declared required variables (values as the stack renders them)
      const deployed = environmentOf(reader.fn(built.central));
      const minimal: Env = { LAMBDA_TASK_ROOT: taskRoot };
      for (const v of reader.reads.required) minimal[v] = deployed[v];
      // THEN that is enough
      expect(() => reader.build(minimal)).not.toThrow();
      // AND without any one of them it refuses, naming it
      for (const v of reader.reads.required) {
        const { [v]: _dropped, ...rest } = minimal;
        expect(() => reader.build(rest)).toThrow(EnvError);
        expect(() => reader.build(rest)).toThrow(new RegExp(`environment variable ${v} is not set`));
      }
    });
  });

  it('names every variable once, in one list, with no name used twice', () => {
    // THEN the names are distinct and all tfstep's own
    const values = Object.values(FUNCTION_ENV);
    expect(new Set(values).size).toBe(values.length);
    for (const v of values) expect(v).toMatch(/^TFSTEP_[A-Z_]+$/);
  });
});
