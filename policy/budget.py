"""budget-within-limit: the plan's monthly cost stays within the environment's budget (stack policy).

The program exports the plan's monthly cost and the environment's budget as stack outputs; the
engine hands stack outputs to stack policies as the props of the ``pulumi:pulumi:Stack`` resource.
The budget may be overridden per stack in this policy's config (``budgetUsdPerMonth``).
"""

from __future__ import annotations

from pulumi_policy import PolicyConfigSchema, ReportViolation, Severity, StackValidationArgs

from policy._common import Unknown, stack_policy, stack_props

NAME = "budget-within-limit"
STACK_TYPE = "pulumi:pulumi:Stack"
DEFAULT_COST_OUTPUT = "monthlyCostUsd"
DEFAULT_BUDGET_OUTPUT = "budgetUsdPerMonth"
STACK_BUDGET_KEY = "aiinfra:budgetUsdPerMonth"

CONFIG_SCHEMA = PolicyConfigSchema(properties={
    "budgetUsdPerMonth": {"type": "number", "minimum": 0, "description": "overrides the budget the stack exports"},
    "costOutput": {"type": "string", "default": DEFAULT_COST_OUTPUT,
                   "description": "stack output holding the plan's monthly cost in USD"},
    "budgetOutput": {"type": "string", "default": DEFAULT_BUDGET_OUTPUT,
                     "description": "stack output holding the environment's monthly budget in USD"},
})


def _stack_config(key: str) -> object:
    """Stack config the engine hands the analyzer (PULUMI_CONFIG), or None."""
    try:
        import pulumi.runtime

        return pulumi.runtime.get_config(key)
    except Exception:  # noqa: BLE001 - no runtime config outside an engine run
        return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None or isinstance(value, Unknown):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = args.get_config()
    cost_key = config.get("costOutput") or DEFAULT_COST_OUTPUT
    budget_key = config.get("budgetOutput") or DEFAULT_BUDGET_OUTPUT
    stack = next((r for r in args.resources if r.resource_type == STACK_TYPE), None)
    outputs = stack_props(stack) if stack is not None else {}
    raw_cost = outputs.get(cost_key)
    if isinstance(raw_cost, Unknown):
        report_violation(f"cannot verify the budget during preview: stack output '{cost_key}' is unknown", None)
        return
    cost = _number(raw_cost)
    if cost is None:
        report_violation(f"the stack exports no monthly cost ('{cost_key}'), so the budget cannot be checked", None)
        return
    budget = _number(config.get("budgetUsdPerMonth"))
    source = "policy config"
    if budget is None:
        budget, source = _number(outputs.get(budget_key)), f"stack output '{budget_key}'"
    if budget is None:
        budget, source = _number(_stack_config(STACK_BUDGET_KEY)), f"stack config '{STACK_BUDGET_KEY}'"
    if budget is None:
        report_violation(f"no budget is declared for this environment (neither policy config 'budgetUsdPerMonth' "
                         f"nor stack output '{budget_key}' nor stack config '{STACK_BUDGET_KEY}'); monthly cost is ${cost:,.2f}", None)
        return
    if cost > budget + 0.005:
        report_violation(f"monthly cost ${cost:,.2f} exceeds the budget of ${budget:,.2f} ({source}) "
                         f"by ${cost - budget:,.2f}", None)


POLICY = stack_policy(
    name=NAME,
    description="The plan's monthly cost is within the environment's budget.",
    severity=Severity.HIGH,
    rule="FinOps budget guardrail: estate budget_usd_per_month / stack budget",
    validate=validate,
    remediation="Raise the environment's budget deliberately, or change the estate (fewer replicas, spot, "
                "cheaper regions) and re-plan.",
    config_schema=CONFIG_SCHEMA,
    tags=["cost"],
)
