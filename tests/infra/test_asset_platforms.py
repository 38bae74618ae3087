"""The local target builds the layers for the host; the template stays the AWS one.

The local synth runs on a simulated Apple-silicon Mac, so that its wheels differ from
Lambda's on any machine: uv fetches the macOS wheels from PyPI when it builds the layer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.tags import parse_tag

from infra import platforms
from infra.platforms import TARGET_CONTEXT_KEY, Host
from tests.infra.conftest import STACKS, SynthesizedApp, synth

MAC_ARM = Host("Darwin", "arm64", mac_version="15.3.1")
NATIVE = ("pyarrow", "numpy", "pydantic_core")


@pytest.fixture(scope="module")
def local_mac_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynthesizedApp]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(platforms, "current_host", lambda: MAC_ARM)
        yield synth(tmp_path_factory.mktemp("cdk-local-mac"), **{TARGET_CONTEXT_KEY: "local"})


def asset_hashes(app: SynthesizedApp) -> set[str]:
    """The hashes of the code assets (the stack templates are file assets too)."""
    hashes: set[str] = set()
    for manifest in Path(app.assembly.directory).glob("*.assets.json"):
        for asset_hash, asset in json.loads(manifest.read_text()).get("files", {}).items():
            if asset["source"]["path"].startswith("asset."):
                hashes.add(asset_hash)
    return hashes


def normalized(app: SynthesizedApp, hashes: set[str]) -> dict[str, Any]:
    pattern = re.compile("|".join(sorted(hashes)))
    return {
        stack: json.loads(pattern.sub("<asset>", json.dumps(template.to_json())))
        for stack, template in app.templates.items()
    }


def dependency_layer(app: SynthesizedApp) -> Path:
    """The staged asset folder of the third-party dependency layer."""
    folders = [
        folder
        for folder in Path(app.assembly.directory).glob("asset.*")
        if (folder / "python" / "pyarrow").is_dir()
    ]
    assert len(folders) == 1, folders
    return folders[0]


def validation_bundle_of(app: SynthesizedApp) -> Path:
    """The staged validation bundle (a zip application, ``infra.validation_bundle``)."""
    (bundle,) = Path(app.assembly.directory).glob("asset.*.pyz")
    return bundle


def native_wheel_tags(layer: Path) -> dict[str, set[str]]:
    """Per distribution, the platform tags of its wheel (pure wheels left out)."""
    tags: dict[str, set[str]] = {}
    for wheel in (layer / "python").glob("*.dist-info/WHEEL"):
        name = wheel.parent.name.split("-")[0]
        for line in wheel.read_text().splitlines():
            if line.startswith("Tag:"):
                for tag in parse_tag(line.removeprefix("Tag:").strip()):
                    if tag.platform != "any":
                        tags.setdefault(name, set()).add(f"{tag.abi}-{tag.platform}")
    return tags


def test_only_asset_hashes_differ_between_the_local_and_the_aws_synth(
    dev_app: SynthesizedApp, local_mac_app: SynthesizedApp
) -> None:
    aws, local = asset_hashes(dev_app), asset_hashes(local_mac_app)
    # Then exactly two assets differ, both built for another platform: the dependency
    # layer and the validation job's bundle (which carries the same wheels)
    assert len(aws - local) == len(local - aws) == 2
    for app, differing in ((dev_app, aws - local), (local_mac_app, local - aws)):
        names = {f"asset.{asset_hash}" for asset_hash in differing}
        assert dependency_layer(app).name in names
        assert validation_bundle_of(app).name.removesuffix(".pyz") in names
    # And with asset hashes masked, every stack's template is the same
    both = aws | local
    assert set(dev_app.templates) == set(local_mac_app.templates) == set(STACKS)
    assert normalized(dev_app, both) == normalized(local_mac_app, both)


def test_the_local_synth_on_a_mac_selects_macos_arm64_wheels(
    local_mac_app: SynthesizedApp,
) -> None:
    tags = native_wheel_tags(dependency_layer(local_mac_app))
    assert set(NATIVE) <= set(tags), sorted(tags)
    for name, platform_tags in tags.items():
        for tag in platform_tags:
            abi, platform = tag.split("-", 1)
            assert abi in ("cp313", "abi3"), (name, tag)
            assert re.fullmatch(r"macosx_1[1-5]_0_arm64", platform), (name, tag)


def test_the_aws_synth_keeps_lambdas_manylinux_wheels(dev_app: SynthesizedApp) -> None:
    tags = native_wheel_tags(dependency_layer(dev_app))
    assert set(NATIVE) <= set(tags), sorted(tags)
    for name, platform_tags in tags.items():
        for tag in platform_tags:
            abi, platform = tag.split("-", 1)
            assert abi in ("cp313", "abi3"), (name, tag)
            # manylinux1/2010/2014 are the legacy names of glibc 2.5/2.12/2.17
            match = re.fullmatch(r"manylinux(?:1|2010|2014|_2_(\d+))_x86_64", platform)
            assert match, (name, tag)
            # Lambda's Python 3.13 (Amazon Linux 2023) loads manylinux up to glibc 2.28 here
            assert match.group(1) is None or int(match.group(1)) <= 28, (name, tag)
