/** Subnet egress verdicts from EC2-shaped route tables and endpoints. */
import { subnetEgress, type RouteTableLike, type VpcEndpointLike } from '../../lib/operator/egress';

const VPC = 'vpc-0a1b2c3d4e5f60718';
const main = (routes: RouteTableLike['Routes']): RouteTableLike => ({ RouteTableId: 'rtb-main', VpcId: VPC, Associations: [{ Main: true }], Routes: routes });
const own = (subnet: string, routes: RouteTableLike['Routes']): RouteTableLike => ({ RouteTableId: 'rtb-own', VpcId: VPC, Associations: [{ SubnetId: subnet }], Routes: routes });
const local = { DestinationCidrBlock: '10.0.0.0/16', GatewayId: 'local', State: 'active' };
const endpoints = (...services: string[]): VpcEndpointLike[] => services.map((s) => ({ ServiceName: `com.amazonaws.us-east-1.${s}`, State: 'available' }));

describe('subnet egress', () => {
  it('GIVEN a private subnet routed to a NAT gateway THEN it works', () => {
    const res = subnetEgress('subnet-a', VPC, [own('subnet-a', [local, { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-1', State: 'active' }])], [], false);
    expect(res).toMatchObject({ defaultRoute: 'nat', routeTableId: 'rtb-own', problems: [] });
  });

  it('GIVEN a subnet without its own table THEN the main route table decides', () => {
    const res = subnetEgress('subnet-b', VPC, [main([local, { DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1', State: 'active' }]), own('subnet-x', [local])], [], true);
    expect(res).toMatchObject({ defaultRoute: 'internet-gateway', routeTableId: 'rtb-main', problems: [] });
  });

  it('fails a public subnet when tasks get no public IP', () => {
    const res = subnetEgress('subnet-c', VPC, [own('subnet-c', [local, { DestinationCidrBlock: '0.0.0.0/0', GatewayId: 'igw-1' }])], [], false);
    expect(res.problems).toEqual([expect.stringContaining('set assignPublicIp: true')]);
  });

  it('fails a subnet with no way out, naming the missing endpoints', () => {
    const res = subnetEgress('subnet-d', VPC, [own('subnet-d', [local])], endpoints('s3', 'ecr.dkr', 'logs'), false);
    expect(res.defaultRoute).toBe('none');
    expect(res.missingEndpoints).toEqual(['ecr.api', 'ssm', 'sts']);
    expect(res.problems).toEqual([expect.stringMatching(/no default route .*VPC endpoints are missing for ecr.api, ssm, sts/)]);
  });

  it('treats a blackholed default route as none', () => {
    const res = subnetEgress('subnet-e', VPC, [own('subnet-e', [local, { DestinationCidrBlock: '0.0.0.0/0', NatGatewayId: 'nat-gone', State: 'blackhole' }])], [], false);
    expect(res.defaultRoute).toBe('none');
    expect(res.problems).toHaveLength(1);
  });
});
