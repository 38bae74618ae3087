"""Which platform the layers are built for, per target and host (hosts simulated)."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline import deploy, localcloud, localcloud_base
from driftline.localcloud import LocalCloud
from infra.config import load_stage_config
from infra.platforms import (
    TARGET_CONTEXT_KEY,
    Host,
    UnsupportedPlatform,
    asset_platform,
    current_host,
    host_platform,
)
from tests.unit.test_stage_config import lookup

DEBIAN_X86 = Host("Linux", "x86_64", "glibc", "2.36")
UBUNTU_ARM = Host("Linux", "aarch64", "glibc", "2.39")
MAC_ARM = Host("Darwin", "arm64", mac_version="15.3.1")
MAC_INTEL = Host("Darwin", "x86_64", mac_version="13.6")


@pytest.mark.parametrize("host", [DEBIAN_X86, UBUNTU_ARM, MAC_ARM, MAC_INTEL])
@pytest.mark.parametrize(
    ("architecture", "uv_platform", "tag"),
    [
        ("x86_64", "x86_64-manylinux_2_28", "manylinux_2_28_x86_64"),
        ("arm64", "aarch64-manylinux_2_28", "manylinux_2_28_aarch64"),
    ],
)
def test_aws_assets_are_lambdas_manylinux_whatever_the_host(
    host: Host, architecture: str, uv_platform: str, tag: str
) -> None:
    # Given any build machine / When the target is AWS
    chosen = asset_platform("aws", architecture, host)
    # Then the wheels are Lambda's: manylinux for the function's architecture
    assert (chosen.uv_platform, chosen.tag) == (uv_platform, tag)
    assert chosen.environment == {}


@pytest.mark.parametrize("architecture", ["x86_64", "arm64"])
@pytest.mark.parametrize(
    ("host", "uv_platform", "tag", "environment"),
    [
        # Linux with glibc >= 2.28 gets the very wheels Lambda gets, for its own CPU
        (DEBIAN_X86, "x86_64-manylinux_2_28", "manylinux_2_28_x86_64", {}),
        (UBUNTU_ARM, "aarch64-manylinux_2_28", "manylinux_2_28_aarch64", {}),
        (
            Host("Linux", "x86_64", "glibc", "2.26"),
            "x86_64-manylinux_2_17",
            "manylinux_2_17_x86_64",
            {},
        ),
        (
            Host("Linux", "aarch64", "", ""),
            "aarch64-unknown-linux-musl",
            "musllinux_1_2_aarch64",
            {},
        ),
        # macOS: its architecture and its own version as the deployment target
        (
            MAC_ARM,
            "aarch64-apple-darwin",
            "macosx_15_0_arm64",
            {"MACOSX_DEPLOYMENT_TARGET": "15.0"},
        ),
        (
            MAC_INTEL,
            "x86_64-apple-darwin",
            "macosx_13_0_x86_64",
            {"MACOSX_DEPLOYMENT_TARGET": "13.0"},
        ),
        (
            Host("Darwin", "x86_64", mac_version="10.15.7"),
            "x86_64-apple-darwin",
            "macosx_10_15_x86_64",
            {"MACOSX_DEPLOYMENT_TARGET": "10.15"},
        ),
    ],
)
def test_local_assets_are_the_hosts_whatever_the_function_architecture(
    architecture: str, host: Host, uv_platform: str, tag: str, environment: dict[str, str]
) -> None:
    # Given a host / When the target is the local cloud, whose functions run on it
    chosen = asset_platform("local", architecture, host)
    # Then the wheels are the host's: its OS, CPU and C library
    assert (chosen.uv_platform, chosen.tag, chosen.environment) == (uv_platform, tag, environment)


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        (Host("Windows", "AMD64"), "Linux and macOS"),
        (Host("Linux", "riscv64", "glibc", "2.39"), "x86_64 and arm64"),
        (Host("Linux", "x86_64", "glibc", "2.12"), "older than any manylinux"),
        (Host("Darwin", "arm64", mac_version=""), "Cannot read the version"),
    ],
)
def test_a_host_the_local_cloud_cannot_serve_is_named(host: Host, reason: str) -> None:
    with pytest.raises(UnsupportedPlatform, match=reason):
        host_platform(host)


def test_unknown_target_or_architecture_fails() -> None:
    with pytest.raises(UnsupportedPlatform, match="Unknown target 'gcp'"):
        asset_platform("gcp", "x86_64", DEBIAN_X86)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedPlatform, match="architecture 'sparc'"):
        asset_platform("aws", "sparc", DEBIAN_X86)


def test_every_platform_tag_can_name_a_cdk_asset_folder() -> None:
    # CDK reads what follows a dot in an asset folder's name as a file extension.
    hosts = [DEBIAN_X86, UBUNTU_ARM, MAC_ARM, MAC_INTEL]
    tags = [host_platform(host).tag for host in hosts] + [
        asset_platform("aws", arch).tag for arch in ("x86_64", "arm64")
    ]
    assert all("." not in tag and "/" not in tag for tag in tags)


def test_a_linux_host_shares_lambdas_layer_cache_for_its_architecture() -> None:
    # The cache is keyed by tag: on Linux the local layer is the one built for AWS.
    assert host_platform(DEBIAN_X86) == asset_platform("aws", "x86_64")
    assert host_platform(UBUNTU_ARM) == asset_platform("aws", "arm64")
    assert host_platform(MAC_ARM).tag not in {
        asset_platform("aws", a).tag for a in ("x86_64", "arm64")
    }


def test_this_machine_is_a_host_the_local_cloud_serves() -> None:
    host = current_host()
    assert host_platform(host).tag


def test_the_target_reaches_the_stage_config_through_cdk_context() -> None:
    # Given no target in the context / Then it is AWS, as for `cdk deploy` by hand
    assert load_stage_config(lookup(), None, None).target == "aws"
    # Given what `driftline local up` passes / Then it is the local cloud
    local = load_stage_config(lookup({TARGET_CONTEXT_KEY: "local"}), None, None)
    assert local.target == "local"
    with pytest.raises(ValueError, match="target"):
        load_stage_config(lookup({TARGET_CONTEXT_KEY: "laptop"}), None, None)


def test_deploys_tell_the_app_their_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls: list[list[str]] = []

    def run_cdk(arguments: list[str], cloud: LocalCloud | None) -> str:
        calls.append(arguments)
        return ""

    monkeypatch.setattr(deploy, "run_cdk", run_cdk)
    # When driftline deploys into the local cloud, and to AWS
    deploy.deploy(LocalCloud(state=tmp_path))
    deploy.deploy(None, {"stage": "prod"})
    # Then the app hears the target as CDK context
    contexts = [[a for flag, a in zip(c, c[1:], strict=False) if flag == "-c"] for c in calls]
    assert contexts == [["driftline:target=local"], ["driftline:target=aws", "stage=prod"]]


def test_framework_environments_are_installed_for_the_host_and_rebuilt_on_another(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    commands: list[tuple[list[str], dict[str, str] | None]] = []

    def run(command: list[str], what: str, environment: dict[str, str] | None = None) -> None:
        commands.append((command, environment))

    monkeypatch.setattr(localcloud_base, "run", run)
    monkeypatch.setattr(localcloud, "find_python313", lambda: Path("/usr/bin/python3.13"))
    cloud = LocalCloud(state=tmp_path)
    # Given an Apple-silicon Mac / When the local cloud is installed
    monkeypatch.setattr(localcloud_base, "current_host", lambda: MAC_ARM)
    assert cloud.install() is True
    # Then the scikit-learn environment gets macOS arm64 wheels for this macOS
    (framework, environment), *_ = [
        (c, e) for c, e in commands if "-r" in c and c[c.index("-r") + 1].endswith("sklearn.txt")
    ]
    assert framework[framework.index("--python-platform") + 1] == "aarch64-apple-darwin"
    assert environment == {"MACOSX_DEPLOYMENT_TARGET": "15.0"}
    # And a second install on the same host does nothing
    commands.clear()
    assert cloud.install() is False and commands == []
    # But the same folder on another host is installed again, for that host
    monkeypatch.setattr(localcloud_base, "current_host", lambda: UBUNTU_ARM)
    assert cloud.install() is True
    assert any("aarch64-manylinux_2_28" in command for command, _ in commands)
