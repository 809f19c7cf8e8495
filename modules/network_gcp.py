"""GCP networking for one region: a custom-mode VPC, a subnetwork with pod/service ranges, Cloud NAT."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from modules.common import Labels

__all__ = ["GcpNetwork", "GcpNetworkArgs"]


@dataclass(frozen=True)
class GcpNetworkArgs:
    """What one regional GKE network needs."""

    project: str
    """GCP project."""
    region: str
    """region of the subnetwork and the router."""
    provider: gcp.Provider
    """explicit provider of that project/region."""
    labels: Labels
    """policy labels (networks take none; kept for the component's props)."""
    cidr: str = "10.10.0.0/20"
    """node range."""
    pods_cidr: str = "10.64.0.0/14"
    """secondary range for pod IPs (VPC-native cluster)."""
    services_cidr: str = "10.68.0.0/20"
    """secondary range for service IPs."""


class GcpNetwork(pulumi.ComponentResource):
    """Network (no auto subnets), subnetwork with secondary ranges and private Google access, router + NAT.

    Outputs: ``network_id``, ``subnetwork_id``, ``pods_range``, ``services_range`` (range names).
    """

    network_id: pulumi.Output[str]
    subnetwork_id: pulumi.Output[str]
    pods_range: str = "pods"
    services_range: str = "services"

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aiinfra:modules:GcpNetwork", name,
                         {"project": args.project, "region": args.region, "cidr": args.cidr,
                          "labels": args.labels.as_dict()}, opts)
        child = pulumi.ResourceOptions(parent=self, provider=args.provider)
        network = gcp.compute.Network(f"{name}-vpc", project=args.project, auto_create_subnetworks=False,
                                      routing_mode="REGIONAL", opts=child)
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet", project=args.project, region=args.region, network=network.id, ip_cidr_range=args.cidr,
            private_ip_google_access=True,
            secondary_ip_ranges=[
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=self.pods_range, ip_cidr_range=args.pods_cidr),
                gcp.compute.SubnetworkSecondaryIpRangeArgs(range_name=self.services_range,
                                                           ip_cidr_range=args.services_cidr)],
            log_config=gcp.compute.SubnetworkLogConfigArgs(aggregation_interval="INTERVAL_5_MIN", flow_sampling=0.5),
            opts=child)
        router = gcp.compute.Router(f"{name}-router", project=args.project, region=args.region, network=network.id,
                                    opts=child)
        gcp.compute.RouterNat(f"{name}-nat", project=args.project, region=args.region, router=router.name,
                              nat_ip_allocate_option="AUTO_ONLY",
                              source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES", opts=child)
        self.network_id = network.id
        self.subnetwork_id = subnet.id
        self.register_outputs({"networkId": self.network_id, "subnetworkId": self.subnetwork_id})
