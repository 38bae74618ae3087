"""A source directory's ``requirements.txt``, checked against the framework environment.

SageMaker's framework containers pip-install a source directory's ``requirements.txt``
before they run the training script or load the serving code. The local cloud installs
nothing while a job runs (no downloads at run time), so it checks instead that the
framework environment standing in for the image already holds every requirement, and
fails the job with a ClientError naming what is missing and where to add it
(``local/frameworks/<name>.txt``, installed by ``driftline local install``). Markers are
evaluated as pip would; option lines (``-r``, ``-e``, ``--index-url``) are refused,
since they would only mean something to an installer.
"""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

REQUIREMENTS_FILE = "requirements.txt"


def installed_versions(python: Path) -> dict[str, str]:
    """Distribution name (canonical) -> version in the virtual environment of ``python``."""
    environment = python.parent.parent
    paths = [str(site) for site in sorted(environment.glob("lib/python3*/site-packages"))]
    versions: dict[str, str] = {}
    for distribution in metadata.distributions(path=paths):
        name = distribution.metadata["Name"]
        if name:
            versions.setdefault(canonicalize_name(name), distribution.version)
    return versions


def requirement_lines(text: str) -> list[str]:
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def requirements_problem(code: Path, python: Path, what: str) -> str | None:
    """Why the environment of ``python`` does not meet ``code/requirements.txt`` (the
    job's ClientError), or None when it does or there is no such file."""
    path = code / REQUIREMENTS_FILE
    if not path.is_file():
        return None
    framework = python.parent.parent.name
    where = f"{what} {REQUIREMENTS_FILE}"
    installed = installed_versions(python)
    missing = []
    for line in requirement_lines(path.read_text(errors="replace")):
        if line.startswith("-"):
            return (
                f"ClientError: {where}: {line!r} is an installer option; the local cloud "
                "installs nothing at run time and reads requirement lines only."
            )
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            return f"ClientError: {where}: {line!r} is not a requirement: {error}"
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = installed.get(canonicalize_name(requirement.name))
        if version is None:
            missing.append(f"{line} (not installed)")
        elif not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{line} (the environment has {version})")
    if not missing:
        return None
    return (
        f"ClientError: {where} asks for what the {framework} framework environment "
        f"lacks: {'; '.join(missing)}. The local cloud installs nothing while a job "
        f"runs: pin them in local/frameworks/{framework}.txt and run "
        "`driftline local install`, or use what the environment holds."
    )
