/**
 * Whether a runner task in a subnet can reach what it needs: ECR and S3 for the image, Logs,
 * SSM, STS (and Secrets Manager for git credentials), the git host and the Terraform registry.
 * Pure: it reads the shapes EC2's DescribeSubnets, DescribeRouteTables and DescribeVpcEndpoints
 * return, so the caller decides where they come from.
 *
 * A subnet's route table is the one associated with it, else the VPC's main route table
 * (Amazon VPC User Guide, "Configure route tables": a subnet without an explicit association
 * uses the main route table).
 */

/** The fields of a route this check reads (EC2 `Route`). */
export interface RouteLike {
  readonly DestinationCidrBlock?: string;
  readonly GatewayId?: string;
  readonly NatGatewayId?: string;
  readonly TransitGatewayId?: string;
  readonly NetworkInterfaceId?: string;
  readonly InstanceId?: string;
  readonly VpcPeeringConnectionId?: string;
  readonly State?: string;
}

/** The fields of a route table this check reads (EC2 `RouteTable`). */
export interface RouteTableLike {
  readonly RouteTableId?: string;
  readonly VpcId?: string;
  readonly Associations?: readonly { readonly SubnetId?: string; readonly Main?: boolean }[];
  readonly Routes?: readonly RouteLike[];
}

/** The fields of a VPC endpoint this check reads (EC2 `VpcEndpoint`). */
export interface VpcEndpointLike {
  readonly ServiceName?: string;
  readonly State?: string;
}

/** Services a runner task calls, as the suffix of their endpoint service names. */
export const RUNNER_AWS_SERVICES = ['ecr.api', 'ecr.dkr', 's3', 'logs', 'ssm', 'sts'] as const;

/** What a subnet's default route leads to. */
export type EgressKind = 'internet-gateway' | 'nat' | 'other' | 'none';

/** The verdict for one subnet. */
export interface SubnetEgress {
  readonly subnetId: string;
  readonly routeTableId?: string;
  readonly defaultRoute: EgressKind;
  /** Runner services without a VPC endpoint (only relevant without a way to the internet). */
  readonly missingEndpoints: string[];
  /** Empty when the subnet works; else why not, and what to do. */
  readonly problems: string[];
}

function defaultRouteKind(routes: readonly RouteLike[]): EgressKind {
  const route = routes.find((r) => r.DestinationCidrBlock === '0.0.0.0/0' && r.State !== 'blackhole');
  if (!route) return 'none';
  if (route.GatewayId?.startsWith('igw-')) return 'internet-gateway';
  if (route.NatGatewayId) return 'nat';
  return route.TransitGatewayId || route.NetworkInterfaceId || route.InstanceId || route.VpcPeeringConnectionId ? 'other' : 'none';
}

/**
 * Judges one subnet of an account's `network`.
 * @param assignPublicIp the account's `network.assignPublicIp`
 */
export function subnetEgress(subnetId: string, vpcId: string, routeTables: readonly RouteTableLike[], endpoints: readonly VpcEndpointLike[], assignPublicIp: boolean): SubnetEgress {
  const own = routeTables.find((t) => t.Associations?.some((a) => a.SubnetId === subnetId));
  const table = own ?? routeTables.find((t) => t.VpcId === vpcId && t.Associations?.some((a) => a.Main));
  const kind = defaultRouteKind(table?.Routes ?? []);
  const available = endpoints.filter((e) => e.State === undefined || e.State.toLowerCase() === 'available').map((e) => e.ServiceName ?? '');
  const missingEndpoints = RUNNER_AWS_SERVICES.filter((s) => !available.some((name) => name.endsWith(`.${s}`)));
  const problems: string[] = [];
  if (kind === 'internet-gateway' && !assignPublicIp) {
    problems.push(`subnet ${subnetId} routes to an internet gateway but network.assignPublicIp is false: a task without a public IP cannot use it; set assignPublicIp: true, or use a private subnet with a NAT gateway`);
  } else if (kind === 'none') {
    const needs = missingEndpoints.length > 0 ? `; without it, VPC endpoints are missing for ${missingEndpoints.join(', ')}` : '';
    problems.push(
      `subnet ${subnetId} has no default route (0.0.0.0/0): the task cannot reach the git host or the Terraform registry${needs}. Add a NAT gateway route, or endpoints plus a proxy or mirror for the rest`,
    );
  }
  return { subnetId, routeTableId: table?.RouteTableId, defaultRoute: kind, missingEndpoints, problems };
}
