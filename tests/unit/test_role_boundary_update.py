"""A stack update of a role's PermissionsBoundary reaches IAM on the local cloud."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = "arn:aws:iam::000000000000:policy/driftline-e2e-boundary"


class RecordingIam:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def put_role_permissions_boundary(self, **kwargs: Any) -> None:
        self.calls.append(("put", kwargs))

    def delete_role_permissions_boundary(self, **kwargs: Any) -> None:
        self.calls.append(("delete", kwargs))


@pytest.fixture(scope="module")
def role_boundary() -> ModuleType:
    sys.path.insert(0, str(ROOT / "local"))
    try:
        return importlib.import_module("driftline_localcloud.cloudformation.role_boundary")
    finally:
        sys.path.remove(str(ROOT / "local"))


def test_a_boundary_added_by_an_update_is_put_on_the_role(role_boundary: ModuleType) -> None:
    # Given a role deployed without a boundary, and a template that now names one
    iam, previous = RecordingIam(), {"RoleName": "driftline-dev-ingest"}
    # When the update is applied
    model = role_boundary.apply_boundary_change(
        iam, previous, {"PermissionsBoundary": BOUNDARY}, previous
    )
    # Then IAM puts the boundary on the role and the recorded model names it
    assert iam.calls == [
        ("put", {"RoleName": "driftline-dev-ingest", "PermissionsBoundary": BOUNDARY})
    ]
    assert model == {"RoleName": "driftline-dev-ingest", "PermissionsBoundary": BOUNDARY}


def test_a_boundary_the_template_drops_is_deleted(role_boundary: ModuleType) -> None:
    # Given a bounded role, and a template that names no boundary any more
    iam = RecordingIam()
    previous = {"RoleName": "r", "PermissionsBoundary": BOUNDARY}
    # When the update is applied
    model = role_boundary.apply_boundary_change(iam, previous, {}, previous)
    # Then IAM deletes the role's boundary and the recorded model has none
    assert iam.calls == [("delete", {"RoleName": "r"})]
    assert model == {"RoleName": "r"}


def test_an_unchanged_boundary_calls_nothing(role_boundary: ModuleType) -> None:
    iam = RecordingIam()
    previous = {"RoleName": "r", "PermissionsBoundary": BOUNDARY}
    assert role_boundary.apply_boundary_change(iam, previous, dict(previous), previous) is None
    assert iam.calls == []
