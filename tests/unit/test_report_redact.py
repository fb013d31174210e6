"""Secrets never appear in any artifact: the redaction rules, with plain data."""

from __future__ import annotations

import json

import pytest

from chaosgate.report.redact import MASK, is_secret_key, redact_mapping, redact_obj, redact_text


@pytest.mark.parametrize("key", ["password", "PGPASSWORD", "db_pass", "api_key", "X-Api-Key",
                                 "Authorization", "GITHUB_TOKEN", "access_token", "client_secret",
                                 "AWS_SECRET_ACCESS_KEY", "cookie", "credentials", "passwords"])
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["status", "passed", "bypass", "key", "target", "url", "name",
                                 "secretary", "job", "selector"])
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


@pytest.mark.parametrize(("text", "secret"), [
    ("password=hunter2", "hunter2"),
    ("password: hunter2", "hunter2"),
    ('{"password": "hun\\"ter2"}', 'hun\\"ter2'),
    ("token='abc123'", "abc123"),
    ("run --token abc123 --verbose", "abc123"),
    ("GET /api?x=1&access_token=abc123&y=2", "abc123"),
    ("Authorization: Bearer eyJabc.def", "eyJabc.def"),
    ("curl -H 'Authorization: Basic dXNlcjpwYXNz'", "dXNlcjpwYXNz"),
    ("header bearer abc.def-123", "abc.def-123"),
    ("https://bob:s3cr3t@prom.example:9090/api", "s3cr3t"),
    ("postgresql://app:pw@db:5432/shop", "app:pw"),
    ("ghp_" + "a" * 36, "ghp_" + "a" * 36),
    ("key AKIAABCDEFGHIJKLMNOP here", "AKIAABCDEFGHIJKLMNOP"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abcdefghijklmnop",
     "eyJzdWIiOiIxMjM0NTY3ODkwIn0"),
])
def test_secrets_are_masked(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert MASK in out
    assert redact_text(out) == out  # idempotent


@pytest.mark.parametrize("text", [
    'sum(rate(http_requests_total{job="orders",code=~"5.."}[1m]))',
    "status: passed, 3 of 3 checks",
    "p95 latency 870 ms > 250 ms",
    "uses basic authentication",
    "https://prom.example:9090/api/v1/query",
])
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert redact_text(text) == text


def test_json_stays_valid() -> None:
    doc = json.dumps({"password": "x", "url": "https://u:p@h/", "ok": True})
    assert json.loads(redact_text(doc)) == {"password": MASK, "url": f"https://{MASK}@h/",
                                            "ok": True}


def test_redact_mapping_masks_secret_keys_and_values() -> None:
    out = redact_mapping({"PROM_TOKEN": "abc", "prometheus": "http://u:p@h:9090", "n": 3})
    assert out == {"PROM_TOKEN": MASK, "prometheus": f"http://{MASK}@h:9090", "n": "3"}


def test_redact_obj_walks_structures() -> None:
    journal = {"secrets": {"prometheus": {"token": {"type": "env", "key": "PROM_TOKEN"}}},
               "configuration": {"prometheus": {"token": "abc", "url": "http://x"}},
               "runs": [{"output": "Authorization: Bearer abc"}, 3, None],
               "password": "", "status": "completed"}
    out = redact_obj(journal)
    assert out["secrets"] == MASK  # a Chaos Toolkit secrets block, whole
    assert out["configuration"]["prometheus"] == {"token": MASK, "url": "http://x"}
    assert out["runs"] == [{"output": f"Authorization: {MASK}"}, 3, None]
    assert out["password"] == ""  # nothing to hide
    assert out["status"] == "completed"
