"""Whether this host's Python can load the wheels in a function's package and layers.

The CDK app builds the assets it deploys to the local cloud for the host
(``-c driftline:target=local``), so they always load here. An asset built for another
platform (Lambda's manylinux on a Mac, or the other CPU architecture) would fail only
at its first import, deep inside the function; this check refuses such a function when
it is created, naming the wheels and how to build the assets for this host. It reads
each installed wheel's ``Tag:`` lines, as pip does, and imports no emulator:
``driftline_ministack.lambda_checks`` runs it on the archives themselves
(``zipfile.Path``); any ``Traversable`` tree will do.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources.abc import Traversable

from packaging.tags import Tag, parse_tag, sys_tags

# Where installed distributions sit in a deployment package or a layer.
SITE_FOLDERS = (".", "python", "python/lib/python3.13/site-packages")


@dataclass(frozen=True)
class ForeignWheel:
    distribution: str  # "pyarrow 26.0.1"
    source: str  # "the function's package", or a layer's ARN
    tags: tuple[str, ...]


def wheel_tags(dist_info: Traversable) -> frozenset[Tag]:
    tags: set[Tag] = set()
    for line in (dist_info / "WHEEL").read_bytes().decode(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Tag" and value.strip():
            tags.update(parse_tag(value.strip()))
    return frozenset(tags)


def _distribution(dist_info: Traversable) -> str:
    name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
    return f"{name} {version}".strip()


def _dist_infos(root: Traversable, folder: str) -> list[Traversable]:
    site = root if folder == "." else root / folder
    if not site.is_dir():
        return []
    found = [entry for entry in site.iterdir() if entry.name.endswith(".dist-info")]
    return sorted(found, key=lambda entry: entry.name)


def foreign_wheels(
    roots: Mapping[str, Traversable], supported: Iterable[Tag] | None = None
) -> list[ForeignWheel]:
    """The installed wheels under ``roots`` (source -> unzipped folder or archive) that no
    tag this interpreter supports matches."""
    accepted = frozenset(sys_tags() if supported is None else supported)
    found: list[ForeignWheel] = []
    for source, root in roots.items():
        for folder in SITE_FOLDERS:
            for dist_info in _dist_infos(root, folder):
                if not (dist_info / "WHEEL").is_file():
                    continue
                tags = wheel_tags(dist_info)
                if tags and not tags & accepted:
                    found.append(
                        ForeignWheel(
                            _distribution(dist_info), source, tuple(sorted(map(str, tags)))
                        )
                    )
    return found


def host_description() -> str:
    return f"{platform.system()} {platform.machine()}, CPython {platform.python_version()}"


def mismatch_message(function: str, wheels: list[ForeignWheel]) -> str:
    shown = "; ".join(f"{w.distribution} in {w.source} ({', '.join(w.tags)})" for w in wheels[:3])
    more = f" and {len(wheels) - 3} more" if len(wheels) > 3 else ""
    return (
        f"Function {function}: its assets hold wheels built for another platform than this "
        f"host ({host_description()}), which cannot load them: {shown}{more}. Build the "
        "assets for this host: deploy with `driftline local up`, or pass "
        "`-c driftline:target=local` to `cdk deploy`."
    )
