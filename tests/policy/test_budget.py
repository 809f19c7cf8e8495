"""budget-within-limit (stack policy over the stack's outputs)."""

from policy.budget import POLICY
from tests.policy.harness import UNKNOWN, messages, resource


def stack(outputs):
    return resource("pulumi:pulumi:Stack", "aiinfra-prod", {}, outputs=outputs, custom=False)


def test_cost_within_budget_passes():
    assert messages(POLICY, stack({"monthlyCostUsd": 3986.85, "budgetUsdPerMonth": 5000.0})) == []


def test_cost_over_budget_fails():
    assert messages(POLICY, stack({"monthlyCostUsd": 5200.0, "budgetUsdPerMonth": 5000.0})) == [
        "monthly cost $5,200.00 exceeds the budget of $5,000.00 (stack output 'budgetUsdPerMonth') by $200.00"]


def test_config_budget_overrides_the_exported_one():
    assert messages(POLICY, stack({"monthlyCostUsd": 900.0, "budgetUsdPerMonth": 5000.0}),
                    config={"budgetUsdPerMonth": 500}) == [
        "monthly cost $900.00 exceeds the budget of $500.00 (policy config) by $400.00"]


def test_missing_cost_output_is_reported():
    assert messages(POLICY, stack({})) == [
        "the stack exports no monthly cost ('monthlyCostUsd'), so the budget cannot be checked"]


def test_missing_budget_is_reported():
    assert messages(POLICY, stack({"monthlyCostUsd": 10})) == [
        "no budget is declared for this environment (neither policy config 'budgetUsdPerMonth' nor stack output "
        "'budgetUsdPerMonth' nor stack config 'aiinfra:budgetUsdPerMonth'); monthly cost is $10.00"]


def test_unknown_cost_is_reported():
    assert messages(POLICY, stack({"monthlyCostUsd": UNKNOWN, "budgetUsdPerMonth": 1})) == [
        "cannot verify the budget during preview: stack output 'monthlyCostUsd' is unknown"]
