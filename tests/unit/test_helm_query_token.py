"""The chart gives the worker its query token from a Secret: one it creates, or the user's."""

from __future__ import annotations

import base64

import helm_python as helm
import pytest
from pydantic import SecretStr

from streams.settings import WorkerSettings
from streams.worker.query_view import query_token
from tests.unit.test_helm_chart import CHART, by_kind, render, scenario, worker_container


def token_env(docs: list[dict]) -> dict:
    env = {e["name"]: e for e in worker_container(docs)["env"]}
    assert env["LINEPULSE_WEB_HOST"]["value"] == "0.0.0.0"  # noqa: S104 - why a token is needed
    return dict(env["LINEPULSE_QUERY_TOKEN"]["valueFrom"]["secretKeyRef"])


def test_the_chart_creates_a_random_token_the_worker_accepts():
    docs = render(scenario("minimal"))
    ref = token_env(docs)
    assert ref == {"name": "lp-linepulse-query-token", "key": "token"}
    (secret,) = by_kind(docs, "Secret")
    assert secret["metadata"]["name"] == ref["name"]
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert len(token) == 48
    assert token.isalnum()
    worker = WorkerSettings(web_host="0.0.0.0", query_token=SecretStr(token))  # noqa: S104
    assert query_token(worker) == token  # the worker starts with it
    again = base64.b64decode(by_kind(render(scenario("minimal")), "Secret")[0]["data"]["token"])
    assert again.decode() != token  # random per install (an upgrade keeps the stored one)


def test_an_existing_secret_is_used_and_none_is_created():
    values = {
        **scenario("minimal"),
        "worker": {"queryTokenSecret": "plant-query", "queryTokenKey": "t"},
    }
    docs = render(values)
    assert token_env(docs) == {"name": "plant-query", "key": "t"}
    assert not by_kind(docs, "Secret")


def test_the_notes_show_how_to_send_the_token():
    rendered = helm.Chart.load(CHART).render(scenario("minimal"), name="lp", namespace="plant")
    notes = next(text for path, text in rendered.items() if path.endswith("NOTES.txt"))
    assert "get secret lp-linepulse-query-token -o jsonpath='{.data.token}'" in notes
    assert "Authorization: Bearer $TOKEN" in notes


def test_a_bad_token_key_is_a_schema_error():
    with pytest.raises(helm.HelmError, match="queryTokenKey"):
        render({**scenario("minimal"), "worker": {"queryTokenKey": ""}})
