"""The re-optimizer's pull request: created once, then its body updated; failures say how to fix them."""

from __future__ import annotations

import pytest

from checks.open_pull_request import open_or_update_pull_request


class RecordedGitHub:
    """Replays GitHub REST responses in the order the calls are made, and records the calls."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = []

    def __call__(self, method, url, body, token):
        self.calls.append((method, url, body, token))
        return self.responses.pop(0)


def test_a_new_branch_gets_a_new_pull_request():
    github = RecordedGitHub((200, []), (201, {"html_url": "https://github.com/acme/ai/pull/7"}))
    url = open_or_update_pull_request("github.com/acme/ai", "reoptimize/prod", "main", "Re-optimization", "report",
                                      "t0ken", send=github)
    assert url == "https://github.com/acme/ai/pull/7"
    assert github.calls[0][:2] == ("GET", "https://api.github.com/repos/acme/ai/pulls?head=acme:reoptimize/prod"
                                          "&base=main&state=open")
    assert github.calls[1] == ("POST", "https://api.github.com/repos/acme/ai/pulls",
                               {"title": "Re-optimization", "head": "reoptimize/prod", "base": "main",
                                "body": "report"}, "t0ken")


def test_an_open_pull_request_gets_the_new_report_as_its_body():
    github = RecordedGitHub((200, [{"number": 12}]), (200, {"html_url": "https://github.com/acme/ai/pull/12"}))
    url = open_or_update_pull_request("github.com/acme/ai", "reoptimize/prod", "main", "t", "new report", "x",
                                      send=github)
    assert url.endswith("/pull/12")
    assert github.calls[1][:3] == ("PATCH", "https://api.github.com/repos/acme/ai/pulls/12", {"body": "new report"})


def test_a_refused_token_is_reported_with_the_permissions_to_grant():
    github = RecordedGitHub((200, []), (403, {"message": "Resource not accessible by integration"}))
    with pytest.raises(RuntimeError, match="HTTP 403.*To fix: give the token 'pull_requests: write'"):
        open_or_update_pull_request("github.com/acme/ai", "b", "main", "t", "r", "x", send=github)


def test_github_enterprise_hosts_use_their_api_path():
    github = RecordedGitHub((200, []), (201, {"html_url": "u"}))
    open_or_update_pull_request("git.acme.example/acme/ai", "b", "main", "t", "r", "x", send=github)
    assert github.calls[0][1].startswith("https://git.acme.example/api/v3/repos/acme/ai/pulls")
