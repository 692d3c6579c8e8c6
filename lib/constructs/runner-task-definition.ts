import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { fargateMemoryProblem } from '../config/schema';
import { InvalidPropsError } from './errors';

/** Seconds between SIGTERM and SIGKILL when a runner task is stopped: Fargate's maximum. */
export const RUNNER_STOP_TIMEOUT_SECONDS = 120;

/** A private ECR image reference: `<account>.dkr.ecr.<region>.amazonaws.com/<repo>[:tag|@sha256:...]`. */
const ECR_IMAGE = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/([a-z0-9._/-]+)(?::([\w.-]+)|@(sha256:[0-9a-f]{64}))?$/;

/**
 * The container image. A private ECR image is referenced as a repository so the execution role
 * gets pull permission on exactly that repository; anything else is pulled as a public image.
 */
function containerImage(scope: Construct, image: string): { image: ecs.ContainerImage; ecr: boolean } {
  const m = ECR_IMAGE.exec(image);
  if (!m) return { image: ecs.ContainerImage.fromRegistry(image), ecr: false };
  const [, account, region, name, tag, digest] = m;
  const partition = Stack.of(scope).partition;
  const repository = ecr.Repository.fromRepositoryAttributes(scope, 'Repository', {
    repositoryArn: `arn:${partition}:ecr:${region}:${account}:repository/${name}`,
    repositoryName: name!,
  });
  return { image: ecs.ContainerImage.fromEcrRepository(repository, digest ?? tag ?? 'latest'), ecr: true };
}

/** Props of {@link RunnerTaskDefinition}. */
export interface RunnerTaskDefinitionProps {
  /** Task definition family; the launcher role may run only these families. */
  readonly family: string;
  /** Name of the runner container: the state machine's container overrides target it. */
  readonly containerName: string;
  /** The runner image, ideally pinned by digest. */
  readonly image: string;
  readonly cpu: number;
  readonly memoryMiB: number;
  /** The role Terraform runs with. */
  readonly taskRole: iam.IRole;
  readonly executionRole: iam.IRole;
  /** Where the runner's output goes; the operator CLI finds a task's stream by its id. */
  readonly logGroup: logs.ILogGroup;
  /** The awslogs stream prefix: a task's stream is `<prefix>/<container>/<task id>`. */
  readonly logStreamPrefix: string;
  /**
   * The image's architecture.
   * @default - X86_64, which every published Terraform image supports
   */
  readonly cpuArchitecture?: ecs.CpuArchitecture;
  /** @default - 50 GiB, room for provider plugins and large checkouts */
  readonly ephemeralStorageGiB?: number;
}

/**
 * One runner task definition (Fargate). The root filesystem is read-only; the runner
 * works in a scratch volume at /tmp, its only writable place, which dies with the task.
 */
export class RunnerTaskDefinition extends Construct {
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly logGroup: logs.ILogGroup;

  constructor(scope: Construct, id: string, props: RunnerTaskDefinitionProps) {
    super(scope, id);
    // The config schema refuses the same pairs; the construct checks its own props too.
    const problem = fargateMemoryProblem(props.cpu, props.memoryMiB);
    if (problem !== undefined) throw new InvalidPropsError(this.node.path, [problem]);

    this.logGroup = props.logGroup;
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'TaskDefinition', {
      family: props.family,
      cpu: props.cpu,
      memoryLimitMiB: props.memoryMiB,
      taskRole: props.taskRole,
      executionRole: props.executionRole,
      ephemeralStorageGiB: props.ephemeralStorageGiB ?? 50,
      runtimePlatform: { cpuArchitecture: props.cpuArchitecture ?? ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      volumes: [{ name: 'scratch' }],
    });
    const image = containerImage(this, props.image);
    this.container = this.taskDefinition.addContainer('Runner', {
      containerName: props.containerName,
      image: image.image,
      essential: true,
      readonlyRootFilesystem: true,
      // On StopTask (a Step Functions abort or timeout, Fargate retiring the task) ECS sends
      // SIGTERM, then SIGKILL after stopTimeout: 30 s by default, at most 120 s on Fargate (ECS
      // API reference, ContainerDefinition stopTimeout). The runner passes SIGTERM to terraform
      // as SIGINT and waits for it to release its state lock, so it gets the longest grace.
      stopTimeout: Duration.seconds(RUNNER_STOP_TIMEOUT_SECONDS),
      // Node as PID 1 ignores SIGTERM; the init process (PID 1) forwards it to the runner.
      linuxParameters: new ecs.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
      // The runner reads its policy location from the image's ENTRYPOINT; no command is set here
      // because the runner refuses any extra argument.
      logging: ecs.LogDrivers.awsLogs({ logGroup: this.logGroup, streamPrefix: props.logStreamPrefix }),
    });
    if (image.ecr) {
      Validations.of(props.executionRole).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'ecr:GetAuthorizationToken has no resource-level permissions; image pulls are limited to the runner repository.',
      });
    }
    this.container.addMountPoints({ containerPath: '/tmp', sourceVolume: 'scratch', readOnly: false });
  }
}
