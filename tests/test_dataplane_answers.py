"""The data-plane answer labels are a named enum, documented label by label in docs/dataplane-answers.md."""

from __future__ import annotations

import json
import re

from aoai_diag.dataplane_classify import REACHABLE, Answer, classify
from tests.conftest import REPO

DOC = (REPO / "docs" / "dataplane-answers.md").read_text(encoding="utf-8")


def test_every_answer_is_documented_with_its_member_name() -> None:
    rows = dict(re.findall(r"^\| (H\d+|unknown) \| `([A-Z_]+)` \|", DOC, flags=re.M))
    assert rows == {a.value: a.name for a in Answer}


def test_labels_stay_the_strings_evidence_and_bundles_hold() -> None:
    assert [a.value for a in Answer] == [*(f"H{n}" for n in range(1, 13)), "unknown"]
    assert Answer("H2") is Answer.PUBLIC_ACCESS_DISABLED and Answer.PUBLIC_ACCESS_DISABLED == "H2"
    assert json.dumps({"classification": Answer.NETWORK_RULES_DENY}) == '{"classification": "H3"}'
    assert f"{Answer.KEY_REJECTED}" == "H1"


def test_classify_returns_the_enum() -> None:
    body = json.dumps(
        {"error": {"code": "403", "message": "Public access is disabled. Please configure private endpoint."}}
    )
    answer = classify(403, {"apim-request-id": "x"}, body).classification
    assert answer is Answer.PUBLIC_ACCESS_DISABLED and answer not in REACHABLE
