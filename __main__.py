"""Pulumi program: stack config -> estate -> optimizer plan -> components (wiring in deploy/program.py)."""

from deploy.config import load_stack_config
from deploy.program import build
from optimizer.catalog import BUNDLED_CATALOG_DIR, load_catalog
from optimizer.estate import load_estate
from optimizer.solve import optimize

config = load_stack_config()
catalog = load_catalog(config.catalog_path or BUNDLED_CATALOG_DIR)
loaded = config.with_budget(load_estate(config.estate_path, catalog))
plan = optimize(loaded, catalog)
build(config, loaded, plan)
