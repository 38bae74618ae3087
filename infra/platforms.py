"""Which platform the function and layer assets are built for.

For AWS, wheels are those of Lambda's platform: manylinux for the function's
architecture, CPython 3.13. For the local cloud, whose process executor runs functions
with the host's own Python 3.13, they are the host's: its OS, architecture and C library.
The target reaches the CDK app as context (``-c driftline:target=local``, which
``driftline local up`` passes); everything else in the template stays the same.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Literal

Target = Literal["aws", "local"]
TARGETS: tuple[Target, ...] = ("aws", "local")
TARGET_CONTEXT_KEY = "driftline:target"
PYTHON_VERSION = "3.13"

# Lambda's Python 3.13 runtime is Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels
# load there, and the layer's requirements are compiled for that platform.
LAMBDA_GLIBC = (2, 28)
# The oldest glibc that manylinux wheels target at all (manylinux2014).
OLDEST_GLIBC = (2, 17)
# Machine names as Python reports them, to the architecture names wheel tags use.
WHEEL_ARCHITECTURES = {
    "x86_64": "x86_64",
    "amd64": "x86_64",
    "aarch64": "aarch64",
    "arm64": "aarch64",
}
LAMBDA_ARCHITECTURES = {"x86_64": "x86_64", "arm64": "aarch64"}


class UnsupportedPlatform(ValueError):
    """No asset platform for this host or architecture; the message says which."""


@dataclass(frozen=True)
class Host:
    """What decides which wheels a machine can load (as the platform module reports it)."""

    system: str  # platform.system(): "Linux", "Darwin", ...
    machine: str  # platform.machine(): "x86_64", "aarch64", "arm64", ...
    libc: str = ""  # platform.libc_ver()[0] on Linux: "glibc", or "" (musl and others)
    libc_version: str = ""  # "2.36"
    mac_version: str = ""  # platform.mac_ver()[0] on macOS: "15.3.1"

    def describe(self) -> str:
        if self.system == "Darwin":
            return f"macOS {self.mac_version} {self.machine}"
        if self.system == "Linux":
            libc = f"{self.libc} {self.libc_version}" if self.libc else "no glibc"
            return f"Linux {self.machine} ({libc})"
        return f"{self.system} {self.machine}"


def current_host() -> Host:
    system = platform.system()
    libc, libc_version = platform.libc_ver() if system == "Linux" else ("", "")
    return Host(
        system=system,
        machine=platform.machine(),
        libc=libc,
        libc_version=libc_version,
        mac_version=platform.mac_ver()[0] if system == "Darwin" else "",
    )


@dataclass(frozen=True)
class AssetPlatform:
    """A platform to install wheels for.

    ``uv_platform`` is what ``uv pip install --python-platform`` takes; ``tag`` the wheel
    platform tag it stands for (also the layer cache's key); ``environment`` what uv
    needs besides (the macOS deployment target).
    """

    uv_platform: str
    tag: str
    environment: dict[str, str] = field(default_factory=dict)


def lambda_platform(architecture: str) -> AssetPlatform:
    """Lambda's platform for a function architecture (``x86_64`` or ``arm64``)."""
    if architecture not in LAMBDA_ARCHITECTURES:
        raise UnsupportedPlatform(f"No Lambda platform for architecture {architecture!r}")
    return _manylinux(LAMBDA_ARCHITECTURES[architecture], LAMBDA_GLIBC)


def host_platform(host: Host) -> AssetPlatform:
    """The platform of wheels that ``host``'s CPython 3.13 loads."""
    arch = WHEEL_ARCHITECTURES.get(host.machine.lower())
    if arch is None:
        raise UnsupportedPlatform(
            f"The local cloud runs on x86_64 and arm64 machines; this one is {host.describe()}"
        )
    if host.system == "Darwin":
        return _macos(arch, host)
    if host.system == "Linux":
        if host.libc != "glibc":
            # Alpine and other musl systems: uv's musl target is musllinux_1_2.
            return AssetPlatform(f"{arch}-unknown-linux-musl", f"musllinux_1_2_{arch}")
        glibc = _version(host.libc_version, host)
        if glibc >= LAMBDA_GLIBC:
            # The same wheels as on Lambda wherever the host can load them.
            return _manylinux(arch, LAMBDA_GLIBC)
        if glibc >= OLDEST_GLIBC:
            return _manylinux(arch, OLDEST_GLIBC)
        raise UnsupportedPlatform(
            f"glibc {host.libc_version} is older than any manylinux wheel supports "
            f"({OLDEST_GLIBC[0]}.{OLDEST_GLIBC[1]}): {host.describe()}"
        )
    raise UnsupportedPlatform(
        f"The local cloud runs on Linux and macOS; this machine is {host.describe()}"
    )


def asset_platform(target: Target, architecture: str, host: Host | None = None) -> AssetPlatform:
    """The platform the assets of a function with ``architecture`` are built for."""
    if target == "aws":
        return lambda_platform(architecture)
    if target == "local":
        return host_platform(host or current_host())
    raise UnsupportedPlatform(f"Unknown target {target!r}: one of {', '.join(TARGETS)}")


def _manylinux(arch: str, glibc: tuple[int, int]) -> AssetPlatform:
    level = f"manylinux_{glibc[0]}_{glibc[1]}"
    return AssetPlatform(f"{arch}-{level}", f"{level}_{arch}")


def _macos(arch: str, host: Host) -> AssetPlatform:
    major, minor = _version(host.mac_version, host)
    # From macOS 11 on, wheels name the major version only (macosx_14_0_arm64).
    target = (major, 0) if major >= 11 else (major, minor)
    uv_arch = "aarch64" if arch == "aarch64" else "x86_64"
    tag_arch = "arm64" if arch == "aarch64" else "x86_64"
    return AssetPlatform(
        f"{uv_arch}-apple-darwin",
        f"macosx_{target[0]}_{target[1]}_{tag_arch}",
        {"MACOSX_DEPLOYMENT_TARGET": f"{target[0]}.{target[1]}"},
    )


def _version(text: str, host: Host) -> tuple[int, int]:
    parts = text.split(".")
    try:
        return int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
    except ValueError:
        raise UnsupportedPlatform(
            f"Cannot read the version {text!r} of {host.describe()}"
        ) from None
