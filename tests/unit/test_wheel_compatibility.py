"""The local cloud's check that this host can load a function's wheels.

It is plain code over folders or archives (no emulator), so it runs here on folders laid
out as a deployment package and layers, against a simulated host's supported tags.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.tags import Tag, cpython_tags, mac_platforms

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compatibility() -> ModuleType:
    sys.path.insert(0, str(ROOT / "local"))
    try:
        return importlib.import_module("driftline_localcloud.lambda_runtime.compatibility")
    finally:
        sys.path.remove(str(ROOT / "local"))


def install(root: Path, name: str, version: str, *tags: str) -> None:
    dist_info = root / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True)
    lines = ["Wheel-Version: 1.0", "Generator: uv", "Root-Is-Purelib: false"]
    (dist_info / "WHEEL").write_text("\n".join(lines + [f"Tag: {tag}" for tag in tags]) + "\n")


def mac_arm64_host() -> set[Tag]:
    """What CPython 3.13 on macOS 15, Apple silicon, accepts (as pip computes it)."""
    tags = set(cpython_tags((3, 13), platforms=list(mac_platforms((15, 0), "arm64"))))
    return tags | {Tag("py3", "none", "any")}


def linux_x86_host() -> set[Tag]:
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)] + ["linux_x86_64"]
    return set(cpython_tags((3, 13), platforms=platforms)) | {Tag("py3", "none", "any")}


def test_lambdas_manylinux_layer_on_a_mac_names_each_foreign_wheel(
    compatibility: ModuleType, tmp_path: Path
) -> None:
    # Given a layer built for Lambda (manylinux x86_64) and a pure-Python function
    layer = tmp_path / "layer"
    install(layer / "python", "pyarrow", "26.0.1", "cp313-cp313-manylinux_2_28_x86_64")
    install(
        layer / "python",
        "numpy",
        "2.5.5",
        "cp313-cp313-manylinux_2_27_x86_64",
        "cp313-cp313-manylinux_2_28_x86_64",
    )
    install(layer / "python", "pydantic", "2.14.3", "py3-none-any")
    code = tmp_path / "code"
    code.mkdir()
    # When the executor checks it on Apple silicon
    found = compatibility.foreign_wheels(
        {"the function's package": code, "layer arn:dependencies:1": layer}, mac_arm64_host()
    )
    # Then the two native wheels are refused, the pure one is not
    assert [(w.distribution, w.source) for w in found] == [
        ("numpy 2.5.5", "layer arn:dependencies:1"),
        ("pyarrow 26.0.1", "layer arn:dependencies:1"),
    ]
    message = compatibility.mismatch_message("driftline-dev-ingest", found)
    assert "Function driftline-dev-ingest" in message
    assert (
        "pyarrow 26.0.1 in layer arn:dependencies:1 (cp313-cp313-manylinux_2_28_x86_64)" in message
    )
    assert "-c driftline:target=local" in message and "driftline local up" in message


def test_host_built_assets_pass(compatibility: ModuleType, tmp_path: Path) -> None:
    # Given the layer as the local target builds it on each host
    mac_layer = tmp_path / "mac"
    install(mac_layer / "python", "pyarrow", "26.0.1", "cp313-cp313-macosx_12_0_arm64")
    install(mac_layer / "python", "numpy", "2.5.5", "cp313-cp313-macosx_14_0_arm64")
    linux_layer = tmp_path / "linux"
    install(linux_layer / "python", "pyarrow", "26.0.1", "cp313-cp313-manylinux_2_28_x86_64")
    # Then nothing is refused
    assert compatibility.foreign_wheels({"layer": mac_layer}, mac_arm64_host()) == []
    assert compatibility.foreign_wheels({"layer": linux_layer}, linux_x86_host()) == []


def test_the_other_architecture_and_site_packages_layout_are_checked(
    compatibility: ModuleType, tmp_path: Path
) -> None:
    # Given an arm64 wheel in a layer's python/lib/python3.13/site-packages on an x86_64 host
    site = tmp_path / "layer" / "python" / "lib" / "python3.13" / "site-packages"
    install(site, "pydantic_core", "2.50.4", "cp313-cp313-manylinux_2_17_aarch64")
    # And one in the deployment package itself
    install(tmp_path / "code", "orjson", "3.11.0", "cp313-cp313-manylinux_2_17_aarch64")
    found = compatibility.foreign_wheels(
        {"the function's package": tmp_path / "code", "layer": tmp_path / "layer"},
        linux_x86_host(),
    )
    assert [w.distribution for w in found] == ["orjson 3.11.0", "pydantic_core 2.50.4"]


def test_a_wheel_for_another_python_is_refused(compatibility: ModuleType, tmp_path: Path) -> None:
    install(tmp_path / "python", "pyarrow", "26.0.1", "cp312-cp312-manylinux_2_28_x86_64")
    found = compatibility.foreign_wheels({"layer": tmp_path}, linux_x86_host())
    assert [w.tags for w in found] == [("cp312-cp312-manylinux_2_28_x86_64",)]


def test_this_hosts_own_tags_are_the_default(compatibility: ModuleType, tmp_path: Path) -> None:
    # What the executor calls: against the running interpreter's tags
    install(tmp_path / "python", "pydantic", "2.14.3", "py3-none-any")
    install(tmp_path / "python", "nowhere", "1.0", "cp313-cp313-win_arm64")
    found = compatibility.foreign_wheels({"layer": tmp_path})
    assert [w.distribution for w in found] == ["nowhere 1.0"]
