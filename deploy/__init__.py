"""The Pulumi program's builder, typed stack config and offline mock runner (see docs/conventions.md)."""

from deploy.config import StackConfig, StackConfigError, load_stack_config
from deploy.preview import OfflineRun, RegisteredResource, run_offline
from deploy.program import build

__all__ = ["OfflineRun", "RegisteredResource", "StackConfig", "StackConfigError", "build", "load_stack_config",
           "run_offline"]
