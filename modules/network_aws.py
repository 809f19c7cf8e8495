"""AWS networking for one region: a VPC with public and private subnets per AZ and NAT for the private ones."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from modules.common import Labels

__all__ = ["AwsNetwork", "AwsNetworkArgs"]


@dataclass(frozen=True)
class AwsNetworkArgs:
    """What one regional VPC needs."""

    region: str
    """AWS region; also pinned on every resource so the region never comes from ambient config."""
    provider: aws.Provider
    """the explicit provider of that region (no default provider anywhere)."""
    labels: Labels
    """policy tags (environment, managed-by, ...)."""
    cidr: str = "10.0.0.0/16"
    """VPC range; /16 leaves room for EKS pod IPs (VPC CNI uses VPC addresses)."""
    az_count: int = 3
    """subnets per tier; EKS needs at least two AZs."""
    nat_gateways: Literal["single", "per-az"] = "single"
    """one NAT (cheap, dev) or one per AZ (survives an AZ outage, prod)."""


class AwsNetwork(pulumi.ComponentResource):
    """VPC, internet gateway, public/private subnets in ``az_count`` AZs, NAT gateways, route tables.

    Outputs: ``vpc_id``, ``private_subnet_ids`` (node groups and the control plane), ``public_subnet_ids``
    (load balancers).
    """

    vpc_id: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:AwsNetwork", name,
                         {"region": args.region, "cidr": args.cidr, "azCount": args.az_count,
                          "natGateways": args.nat_gateways, "tags": args.labels.as_dict()}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        tags = args.labels.as_dict()
        region = args.region
        zones = aws.get_availability_zones_output(
            state="available", region=region, opts=pulumi.InvokeOutputOptions(parent=self, provider=args.provider))
        vpc = aws.ec2.Vpc(f"{name}-vpc", cidr_block=args.cidr, enable_dns_hostnames=True, enable_dns_support=True,
                          region=region, tags={**tags, "Name": f"{name}-vpc"}, opts=child)
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, region=region, tags=tags, opts=child)
        blocks = list(ipaddress.ip_network(args.cidr).subnets(new_prefix=20))
        public_rt = aws.ec2.RouteTable(
            f"{name}-public", vpc_id=vpc.id, region=region, tags=tags, opts=child,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)])
        public, private, nats = [], [], []
        for index in range(args.az_count):
            az = zones.names.apply(lambda names, i=index: names[i % len(names)])
            pub = aws.ec2.Subnet(f"{name}-public-{index}", vpc_id=vpc.id, availability_zone=az,
                                 cidr_block=str(blocks[index]), map_public_ip_on_launch=False, region=region,
                                 tags={**tags, "kubernetes.io/role/elb": "1"}, opts=child)
            aws.ec2.RouteTableAssociation(f"{name}-public-{index}", subnet_id=pub.id, route_table_id=public_rt.id,
                                          region=region, opts=child)
            public.append(pub)
            if args.nat_gateways == "per-az" or index == 0:
                eip = aws.ec2.Eip(f"{name}-nat-{index}", domain="vpc", region=region, tags=tags, opts=child)
                nats.append(aws.ec2.NatGateway(f"{name}-nat-{index}", allocation_id=eip.id, subnet_id=pub.id,
                                               region=region, tags=tags,
                                               opts=pulumi.ResourceOptions(parent=self, provider=args.provider,
                                                                           depends_on=[igw])))
            nat = nats[index] if args.nat_gateways == "per-az" else nats[0]
            priv = aws.ec2.Subnet(f"{name}-private-{index}", vpc_id=vpc.id, availability_zone=az,
                                  cidr_block=str(blocks[8 + index]), region=region,
                                  tags={**tags, "kubernetes.io/role/internal-elb": "1"}, opts=child)
            rt = aws.ec2.RouteTable(f"{name}-private-{index}", vpc_id=vpc.id, region=region, tags=tags, opts=child,
                                    routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0",
                                                                        nat_gateway_id=nat.id)])
            aws.ec2.RouteTableAssociation(f"{name}-private-{index}", subnet_id=priv.id, route_table_id=rt.id,
                                          region=region, opts=child)
            private.append(priv)
        self.vpc_id = vpc.id
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public])
        self.register_outputs({"vpcId": self.vpc_id, "privateSubnetIds": self.private_subnet_ids,
                               "publicSubnetIds": self.public_subnet_ids})
