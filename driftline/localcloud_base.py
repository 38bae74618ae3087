"""The emulator the local cloud stands on, and what it needs around it.

MiniStack (MIT, pure Python, released monthly; pinned in
``local/requirements-ministack.txt``) with driftline's additions
(``local/driftline_ministack`` and the SageMaker provider in
``local/driftline_localcloud``), in ``.localcloud/ministack/venv``. IAM is enforced by
MiniStack's ``AUTH`` and state kept by MiniStack's persistence, in the ``ministack``
folder of the kept state (``driftline.localcloud_state``). The SageMaker framework
environments live in ``.localcloud/frameworks``.

It replaced LocalStack's last open-source core, which can never get a fix; the README's
design notes hold the measured comparison behind the move.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from driftline import localcloud_state as kept
from infra.platforms import AssetPlatform, current_host, host_platform

if TYPE_CHECKING:
    from driftline.localcloud import LocalCloud

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "local"
# The variable that chose between two bases before LocalStack's core was dropped.
BASE_VARIABLE = "DRIFTLINE_LOCAL_BASE"
# SageMaker framework images the local cloud can run, each as a virtual environment built
# from local/frameworks/<name>.txt under .localcloud/frameworks/<name>.
FRAMEWORKS = ("sklearn", "xgboost", "pytorch")
Progress = Callable[[str], None]


class BaseError(RuntimeError):
    """A base cannot be installed or does not offer what was asked; the message says why."""


def digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def run(command: list[str], what: str, environment: dict[str, str] | None = None) -> None:
    env = {**os.environ, **environment} if environment else None
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise BaseError(f"{what} failed:\n{result.stdout}\n{result.stderr}".rstrip())


UV = [sys.executable, "-m", "uv"]


def make_venv(venv: Path, python313: Path, what: str) -> None:
    run(
        [*UV, "venv", "--quiet", "--allow-existing", "--python", str(python313), str(venv)],
        f"Creating {what}'s virtual environment",
    )


def pip_install(
    venv: Path, arguments: list[str], what: str, environment: dict[str, str] | None = None
) -> None:
    python = venv / "bin" / "python"
    run([*UV, "pip", "install", "--quiet", "--python", str(python), *arguments], what, environment)


def host() -> AssetPlatform:
    """This machine's platform: environments hold native wheels for it, so a state folder
    restored on another platform (a CI cache, a moved checkout) is installed again."""
    return host_platform(current_host())


def framework_pins() -> list[Path]:
    return [LOCAL / "frameworks" / f"{name}.txt" for name in FRAMEWORKS]


def frameworks_marker(state: Path) -> Path:
    return state / "frameworks" / "installed.sha256"


def frameworks_wanted(platform: AssetPlatform) -> str:
    return f"{digest(*framework_pins())} {platform.tag}"


def install_frameworks(state: Path, python313: Path, progress: Progress) -> None:
    """The framework images' stand-ins: Python 3.13 with each image's
    pinned packages as wheels for the host's platform (the one the layers get for the
    local target). Rebuilt when their pins or the platform change, afresh, so that a
    package dropped from the pins does not linger."""
    platform = host()
    marker = frameworks_marker(state)
    wanted = frameworks_wanted(platform)
    if marker.is_file() and marker.read_text() == wanted:
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    for name, requirements in zip(FRAMEWORKS, framework_pins(), strict=True):
        progress(f"installing the SageMaker {name} framework environment")
        venv = state / "frameworks" / name
        shutil.rmtree(venv, ignore_errors=True)
        make_venv(venv, python313, f"the SageMaker {name} framework")
        pip_install(
            venv,
            [
                "--only-binary", ":all:", "--python-platform", platform.uv_platform,
                "-r", str(requirements),
            ],
            f"Installing the SageMaker {name} framework packages for {platform.tag}",
            platform.environment,
        )  # fmt: skip
    marker.write_text(wanted)


# What the LocalStack base kept in the local cloud's folder (its environment, about 1 GB
# with the runtime's packages, its files and logs); MiniStack's live in ``ministack/``.
RETIRED = ("venv", "lambda-runtime", "filesystem")
RETIRED_FILES = ("localstack.log", "localstack.previous.log", "localstack.pid")


def retire_localstack(state: Path, progress: Progress) -> None:
    """Removes what the LocalStack base left in ``state`` (each install looks; one finds it)."""
    folders = [state / name for name in RETIRED if (state / name).is_dir()]
    if folders:
        progress("removing the former LocalStack base's environment and files")
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    for name in RETIRED_FILES:
        (state / name).unlink(missing_ok=True)


# The app's service names where MiniStack's differ.
MINISTACK_SERVICE_NAMES = {"stepfunctions": "states", "cloudwatch": "monitoring"}
SAGEMAKER_SERVICES = {"sagemaker", "sagemaker-runtime"}


@dataclass(frozen=True)
class Base:
    """MiniStack, started through driftline_ministack.serve (additions, then Hypercorn)."""

    name: str
    title: str
    serve_module: str
    health_path: str

    def venv(self, cloud: LocalCloud) -> Path:
        return self.folder(cloud) / "venv"

    def marker(self, cloud: LocalCloud) -> Path:
        return self.folder(cloud) / "installed.sha256"

    def wanted(self) -> str:
        """The marker of an environment installed from these pins, on this platform."""
        return f"{digest(*self.requirement_files())} {host().tag}"

    def installed(self, cloud: LocalCloud) -> bool:
        """Whether the base's environment and the framework environments match their pins
        and this machine's platform."""
        marker, frameworks = self.marker(cloud), frameworks_marker(cloud.state)
        return (
            marker.is_file()
            and marker.read_text() == self.wanted()
            and frameworks.is_file()
            and frameworks.read_text() == frameworks_wanted(host())
        )

    def install(self, cloud: LocalCloud, python313: Path, progress: Progress) -> None:
        """Create the base's environment and the framework environments, where stale."""
        wanted = self.wanted()
        marker = self.marker(cloud)
        if not (marker.is_file() and marker.read_text() == wanted):
            marker.parent.mkdir(parents=True, exist_ok=True)
            progress(f"creating {self.title}'s virtual environment")
            make_venv(self.venv(cloud), python313, self.title)
            self.install_packages(cloud, python313, progress)
            marker.write_text(wanted)
        install_frameworks(cloud.state, python313, progress)

    def folder(self, cloud: LocalCloud) -> Path:
        return cloud.state / "ministack"

    def python_runtime(self, cloud: LocalCloud) -> Path:
        """What the AWS Python runtime provides (boto3), in a virtual environment whose
        interpreter runs the Python functions (driftline_ministack.lambda_runtime)."""
        return self.folder(cloud) / "lambda-runtime"

    def node_runtime(self, cloud: LocalCloud) -> Path:
        """What the AWS Node.js runtime provides (the AWS SDK v3 clients CDK's handlers use)."""
        return self.folder(cloud) / "node-runtime"

    def requirement_files(self) -> tuple[Path, ...]:
        return (
            LOCAL / "requirements-ministack.txt",
            LOCAL / "lambda-runtime.txt",
            LOCAL / "pyproject.toml",
            LOCAL / "node-runtime" / "package-lock.json",
        )

    def install_packages(self, cloud: LocalCloud, python313: Path, progress: Progress) -> None:
        progress("installing MiniStack and the driftline additions")
        pip_install(
            self.venv(cloud),
            ["-r", str(LOCAL / "requirements-ministack.txt"), "-e", str(LOCAL)],
            "Installing MiniStack",
        )
        progress("installing the Lambda Python runtime's packages")
        runtime = self.python_runtime(cloud)
        shutil.rmtree(runtime, ignore_errors=True)
        make_venv(runtime, python313, "the Lambda Python runtime")
        pip_install(
            runtime,
            ["-r", str(LOCAL / "lambda-runtime.txt")],
            "Installing the Lambda Python runtime's packages",
        )
        progress("installing the Node.js runtime's packages")
        target = self.node_runtime(cloud)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copy(LOCAL / "node-runtime" / name, target / name)
        run(
            ["npm", "ci", "--prefix", str(target), "--no-audit", "--no-fund", "--loglevel=error"],
            "Installing the Node.js runtime's packages",
        )

    def services(self, cloud: LocalCloud) -> list[str]:
        """MiniStack's names for the local cloud's services; SageMaker and its runtime are
        driftline's (not in MiniStack's table when it reads SERVICES; the runtime's calls
        reach SageMaker's handler), and the app's templates declare AWS Backup resources,
        which MiniStack serves."""
        names = [MINISTACK_SERVICE_NAMES.get(s, s) for s in cloud.services.split(",")]
        if "cloudformation" in names:
            names.append("backup")
        return [n for n in names if n not in SAGEMAKER_SERVICES]

    def environment(self, cloud: LocalCloud) -> dict[str, str]:
        folder = self.folder(cloud)
        # In the kept state's folder (driftline.localcloud_state); without persistence,
        # a folder each start clears, leaving what was kept alone.
        kept_state = kept.folder(cloud.state) / "ministack"
        state = kept_state if cloud.keeps_state else folder / "tmp" / "state"
        # Each warm function environment unpacks its code and layers (the dependency
        # layer alone is about 200 MB) into a folder of its own under TMPDIR, and MiniStack
        # leaves them behind when it stops: they must land here, where every start
        # clears them, not in the machine's /tmp (the TMPDIR given must exist, or Python
        # falls back to /tmp).
        (folder / "tmp").mkdir(parents=True, exist_ok=True)
        return {
            "GATEWAY_PORT": str(cloud.port),
            # driftline_ministack.serve binds each of these (MiniStack's BIND_HOST takes one).
            "DRIFTLINE_LISTEN": ",".join(cloud.listen),
            "SERVICES": ",".join(self.services(cloud)),
            "LAMBDA_EXECUTOR": "local",
            # Node.js functions (CDK's custom-resource handlers) find the SDK here, as in
            # AWS's runtime; a function's own node_modules and layers still come first.
            "NODE_PATH": str(self.node_runtime(cloud) / "node_modules"),
            # Python functions run with this interpreter: AWS's runtime packages only.
            "DRIFTLINE_LAMBDA_PYTHON": str(self.python_runtime(cloud) / "bin" / "python"),
            # Retries of a failed asynchronous invocation after 1 and 2 seconds (1 and 2
            # minutes on AWS), so a crash, its retries and the failure destination play
            # out while a developer watches.
            "LAMBDA_ASYNC_RETRY_BASE_SECONDS": "1",
            "AUTH": "true" if cloud.enforces_iam else "false",
            "PERSIST_STATE": "1" if cloud.keeps_state else "0",
            "STATE_DIR": str(state),
            "S3_PERSIST": "1" if cloud.keeps_state else "0",
            "S3_DATA_DIR": str(state / "s3"),
            "DRIFTLINE_SAGEMAKER_FRAMEWORKS": str(cloud.frameworks),
            "DRIFTLINE_SAGEMAKER_WORK": str(folder / "tmp" / "driftline-sagemaker"),
            "TMPDIR": str(folder / "tmp"),
            "SFTP_ENABLED": "0",
            "LOG_LEVEL": "INFO",
        }

    def health_services(self, cloud: LocalCloud) -> set[str]:
        wanted = set(self.services(cloud))
        asked = set(cloud.services.split(","))
        return wanted | {"sagemaker"} if asked & SAGEMAKER_SERVICES else wanted

    def fresh_state(self, cloud: LocalCloud) -> list[Path]:
        return [self.folder(cloud) / "tmp"]


MINISTACK = Base("ministack", "MiniStack", "driftline_ministack.serve", "/_ministack/health")


def refuse_other_base() -> None:
    """A clear error for a setting that chose LocalStack's core, which is gone."""
    chosen = os.environ.get(BASE_VARIABLE, "").strip()
    if chosen and chosen != MINISTACK.name:
        raise BaseError(
            f"{BASE_VARIABLE}={chosen!r}: the local cloud stands on MiniStack only "
            "(LocalStack's frozen core was dropped; see the README's design notes). "
            f"Unset {BASE_VARIABLE}."
        )
