"""Pulumi program: stack config -> estate -> plan (the stack's committed lock, else a fresh optimum) ->
components (wiring in deploy/program.py)."""

from deploy.config import load_stack_config
from deploy.program import build
from optimizer.catalog import BUNDLED_CATALOG_DIR, load_catalog
from optimizer.estate import load_estate
from optimizer.lockfile import lock_path, plan_for_stack

config = load_stack_config()
catalog = load_catalog(config.catalog_path or BUNDLED_CATALOG_DIR)
loaded = config.with_budget(load_estate(config.estate_path, catalog))
plan = plan_for_stack(loaded, catalog, lock_path(config.root / "stacks", config.stack), stack=config.stack)
build(config, loaded, plan)
