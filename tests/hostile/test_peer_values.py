"""Class 1 (issue 19): values from a peer enter checked. NaN, Infinity, absurd lengths and wrong types in IMDS
metadata, Resource Graph rows and identity-endpoint answers become evidence of a misbehaving peer (an error with
its reason): never a crash, never "Azure VM nan in inf", and `-o json` stays strict JSON."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from aoai_diag import peer
from aoai_diag.azure.convert import checked_row
from aoai_diag.azure.credential import BadToken, checked_token
from aoai_diag.blocking import run_sync
from aoai_diag.net.imds import fetch_instance, parse_instance
from tests.azure_harness import topology
from tests.hostile.peers import HostileArm, seen
from tests.hostile.support import arm_lab, assert_bounded, cli, local_args
from tests.servers import imds

DEADLINE = 2.0


def instance(**compute: Any) -> str:
    doc = copy.deepcopy(imds.DEFAULT_INSTANCE)
    doc["compute"].update(compute)
    return json.dumps(doc)  # writes NaN / Infinity as Python's json does


def test_imds_nan_and_infinity_are_an_error_and_the_report_stays_strict() -> None:
    with imds.serve({"instance_body": instance(name=float("nan"), location=float("inf"))}) as server:
        run = cli(*local_args(DEADLINE, imds=server.endpoint), "--no-azure")
    assert_bounded(run, DEADLINE)
    platform = run.checks()["azure_platform"]  # parsed strictly and validated against the schema
    assert platform["status"] == "error" and "is not a JSON number" in platform["summary"], platform["summary"]
    assert platform["evidence"]["on_azure"] is None and platform["evidence"]["vm"] is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (instance(location=1e999), "Infinity"),
        (instance(name=["jumpbox"]), "compute.name is a list"),
        (instance(location="x" * 100_000), "compute.location: a string of 100000 characters"),
        (instance(vmId=12345678901234567890123), "digits"),
        (instance(resourceGroupName="g" * 300), "compute.resourceGroupName is 300 characters"),
        ('{"compute": {}, "network": {"interface": [{"ipv4": {"ipAddress": [{"privateIpAddress": "x"}]}}]}}', "IP"),
        (
            '{"compute": {}, "network": {"interface": [{"ipv4": {"subnet": [{"address": "10.0.0.0", "prefix": 1e3}]}}]}}',
            "prefix",
        ),
        ("[" * 100_000 + "]" * 100_000, "nested"),
        (" " * (300 * 1024), "larger than"),
    ],
    ids=["1e999", "list-name", "100k-location", "huge-int", "long-group", "bad-ip", "bad-prefix", "deep", "big"],
)
def test_imds_answers_that_misbehave_are_an_error_with_reason(body: str, reason: str) -> None:
    with imds.serve({"instance_body": body}) as server:
        evidence = run_sync(fetch_instance, 10.0, server.endpoint, 1.0, 1.0)
    assert evidence.on_azure is None and evidence.vm is None
    assert evidence.error is not None and reason in evidence.error, evidence.error


def test_the_table_never_shows_nan() -> None:
    with imds.serve({"instance_body": instance(name=float("nan"), location=float("inf"))}) as server:
        args = local_args(DEADLINE, imds=server.endpoint)
        args[args.index("json")] = "table"
        run = cli(*args, "--no-azure")
    assert_bounded(run, DEADLINE)
    assert "Azure VM" not in run.stdout
    # The reason may name the constant ("Infinity is not a JSON number"); a value shown as data never appears.
    assert not re.search(r"\b(nan|inf)\b", run.stdout.lower())
    assert "IMDS gave no usable answer" in run.stdout


def test_a_nan_in_a_resource_graph_row_is_malformed_evidence_not_a_crash() -> None:
    topo = {**topology("healthy_jumpbox"), "hostile": {"graph": "nan"}}
    topo.pop("imds")
    with arm_lab(topo, HostileArm) as lab:
        run = cli(*local_args(3.0), *lab.args(), env=lab.env())
    assert_bounded(run, 3.0)
    account = run.checks()["arm_account"]["evidence"]
    # The row was refused with its reason; the account came from the per-subscription lists instead.
    assert account["graph_error"]["code"] == "MalformedResponse"
    assert "NaN" in account["graph_error"]["message"] or "nan" in account["graph_error"]["message"]
    assert account["source"] == "list_calls"


def test_a_nan_in_the_token_answer_is_an_error_of_arm_access() -> None:
    topo = {**topology("healthy_jumpbox"), "hostile": {"token": "nan"}}
    topo.pop("imds")
    with arm_lab(topo, HostileArm) as lab:
        run = cli(*local_args(3.0), *lab.args(), env=lab.env())
    assert_bounded(run, 3.0)
    access = run.checks()["arm_access"]
    assert access["status"] == "error", access
    assert not any(auth for method, path, _, auth in seen(lab.arm) if not path.endswith("/token") and auth)


# The checks themselves, where the values enter ------------------------------------------------------------------


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "1e999", "1" * 30, "[" * 5000 + "]" * 5000])
def test_peer_json_refuses_what_strict_json_cannot_carry(text: str) -> None:
    with pytest.raises(peer.PeerValueError):
        peer.loads(text, "answer")


def test_peer_json_takes_standard_json() -> None:
    assert peer.loads(b'{"a": [1, 2.5, "x", null, true]}', "answer") == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize(
    "row",
    [
        {"id": "/x", "location": float("nan")},
        {"id": "/x", "properties": {"deep": [float("inf")]}},
        {"id": 7},
        {"id": "/x", "properties": []},
        {"id": "/x", "name": "n" * 10_000},
        ["not", "a", "row"],
    ],
)
def test_arm_rows_are_checked_where_they_enter(row: Any) -> None:
    with pytest.raises(peer.PeerValueError):
        checked_row(row, "row")


def test_imds_fields_of_the_wrong_type_are_named() -> None:
    with pytest.raises(peer.PeerValueError, match=r"compute\.subscriptionId is a number"):
        parse_instance({"compute": {"subscriptionId": 3.5}})


class _Token:
    def __init__(self, token: Any, expires_on: Any) -> None:
        self.token, self.expires_on = token, expires_on


@pytest.mark.parametrize(
    ("token", "expires"), [(None, 1), ("t", float("nan")), ("t", float("inf")), ("t" * 100_000, 1), ("a\nb", 1)]
)
def test_unusable_tokens_are_refused(token: Any, expires: Any) -> None:
    with pytest.raises(BadToken):
        checked_token(_Token(token, expires))
