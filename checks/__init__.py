"""Credential-free policy checks and cost diffs for pull requests (``python -m checks``)."""
