"""Entry point of the CrossGuard pack: builds the PolicyPack and nothing else.

``pulumi preview --policy-pack policy`` runs ``python -m pulumi.policy <engine> policy/``, which
runpy-executes this file with ``policy/`` (not the repository root) on sys.path, so the repository
root is put on sys.path here before ``policy.*`` is imported.
"""

import os
import sys
from pathlib import Path

_REPO_ROOT = str(Path(__file__).resolve().parent.parent)
if _REPO_ROOT not in sys.path:
    sys.path.insert(0, _REPO_ROOT)

from pulumi_policy import PolicyPack  # noqa: E402

from policy.pack import pack_kwargs  # noqa: E402

# AIINFRA_POLICY_DRY_RUN=1 builds the policies without serving them (PolicyPack() never returns).
if os.environ.get("AIINFRA_POLICY_DRY_RUN") == "1":
    print(len(pack_kwargs()["policies"]))
else:
    PolicyPack(**pack_kwargs())
