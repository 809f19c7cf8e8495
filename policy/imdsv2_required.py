"""imdsv2-required: AWS nodes require IMDSv2 session tokens (no IMDSv1 credential theft via SSRF)."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from policy._common import EKS_NODEGROUP, LAUNCH_TEMPLATE, Unknown, get, plain, resource_policy

NAME = "imdsv2-required"
INSTANCE = "aws:ec2/instance:Instance"


def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    props = plain(args.props)
    if args.resource_type in (LAUNCH_TEMPLATE, INSTANCE):
        endpoint = get(props, "metadataOptions", "httpEndpoint")
        tokens = get(props, "metadataOptions", "httpTokens")
        if endpoint == "disabled":
            return
        if isinstance(tokens, Unknown) or isinstance(endpoint, Unknown):
            report_violation("cannot verify metadataOptions.httpTokens during preview (value is unknown)", None)
        elif tokens is None:
            report_violation("metadataOptions.httpTokens is not set, so IMDSv1 stays enabled; set it to 'required'",
                             None)
        elif tokens != "required":
            report_violation(f"metadataOptions.httpTokens is '{tokens}', so IMDSv1 stays enabled; "
                             "set it to 'required'", None)
    elif args.resource_type == EKS_NODEGROUP:
        template = get(props, "launchTemplate")
        if isinstance(template, Unknown):
            return  # the template itself is checked where it is defined
        if not isinstance(template, dict) or not template:
            report_violation("the node group has no launch template, so IMDSv2 cannot be enforced; "
                             "give it a launch template with metadataOptions.httpTokens = 'required'", None)


POLICY = resource_policy(
    name=NAME,
    description="AWS instances and EKS nodes require IMDSv2 (httpTokens = required).",
    severity=Severity.HIGH,
    rule="AWS Foundational Security Best Practices EC2.8 (instances should use IMDSv2)",
    validate=validate,
    remediation="Set metadataOptions {httpTokens: 'required', httpPutResponseHopLimit: 2} on the launch template "
                "and attach it to every EKS node group.",
    tags=["aws", "compute", "credentials"],
)
