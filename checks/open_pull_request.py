"""Open (or update) a GitHub pull request with a markdown body: used by the in-cluster re-optimizer.

``python -m checks.open_pull_request --repository github.com/OWNER/REPO --head BRANCH --base main
--title T --body-file report.md`` with ``GIT_TOKEN`` in the environment. Uses the REST API over
HTTPS (urllib), so the job image needs no GitHub CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable

__all__ = ["open_or_update_pull_request", "main"]

Send = Callable[[str, str, dict | None, str], tuple[int, Any]]


def _send(method: str, url: str, body: dict | None, token: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}",
                                              "Accept": "application/vnd.github+json",
                                              "X-GitHub-Api-Version": "2022-11-28"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - https API URL
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def open_or_update_pull_request(repository: str, head: str, base: str, title: str, body: str, token: str,
                                send: Send = _send) -> str:
    """The URL of the pull request from ``head`` into ``base``, created or with its body replaced."""
    host, owner, repo = repository.split("/", 2)
    api = "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"
    status, found = send("GET", f"{api}/repos/{owner}/{repo}/pulls?head={owner}:{head}&base={base}&state=open",
                         None, token)
    if status == 200 and found:
        number = found[0]["number"]
        status, updated = send("PATCH", f"{api}/repos/{owner}/{repo}/pulls/{number}", {"body": body}, token)
        if status != 200:
            raise RuntimeError(f"updating pull request #{number} failed with HTTP {status}: {updated}")
        return updated["html_url"]
    status, created = send("POST", f"{api}/repos/{owner}/{repo}/pulls",
                           {"title": title, "head": head, "base": base, "body": body}, token)
    if status != 201:
        raise RuntimeError(f"opening the pull request failed with HTTP {status}: {created}. To fix: give the "
                           "token 'pull_requests: write' and 'contents: write' on the repository")
    return created["html_url"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.open_pull_request", description=__doc__)
    parser.add_argument("--repository", required=True)
    parser.add_argument("--head", required=True)
    parser.add_argument("--base", required=True)
    parser.add_argument("--title", required=True)
    parser.add_argument("--body-file", type=Path, required=True)
    args = parser.parse_args(argv)
    token = os.environ.get("GIT_TOKEN")
    if not token:
        print("GIT_TOKEN is not set. To fix: mount the re-optimizer's credentials secret", file=sys.stderr)
        return 2
    try:
        url = open_or_update_pull_request(args.repository, args.head, args.base, args.title,
                                          args.body_file.read_text(encoding="utf-8"), token)
    except (RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
