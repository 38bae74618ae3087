"""The local cloud: LocalStack's open-source core on the host, with driftline's plugin.

LocalStack needs Python 3.13 and dependency pins that conflict with the project's, so
it gets a virtual environment of its own under ``.localcloud/``. Everything it writes
(its files, S3 objects, unpacked functions, logs) stays under that folder too, and it
listens on loopback only. ``install`` is idempotent (a digest of the requirement files
decides whether anything is to do); ``start`` and ``stop`` are bounded by deadlines.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from driftline import localcloud_state as kept
from driftline.errors import DriftlineError, PreconditionFailed
from driftline.localcloud_network import host_port, listening_addresses, loopback_addresses
from infra.platforms import AssetPlatform, current_host, host_platform

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / "local"
PYTHON313_SCRIPT = ROOT / "scripts" / "python313.sh"
SERVICES = (
    "s3,lambda,stepfunctions,events,iam,sts,cloudformation,ssm,logs,sqs,sns,dynamodb,kms,sagemaker,"
    "sagemaker-runtime,cloudwatch"
)
# SageMaker framework images the local cloud can run, each as a virtual environment built
# from local/frameworks/<name>.txt under .localcloud/frameworks/<name>.
FRAMEWORKS = ("sklearn", "xgboost", "pytorch")
ACCOUNT_ID = "000000000000"
REGION = "us-east-1"


class LocalCloudError(DriftlineError):
    """The local cloud cannot be installed, started or stopped; the message says why."""


class LocalCloudPrecondition(LocalCloudError, PreconditionFailed):
    """Something the user must provide first: Python 3.13, a free port, an installation."""


def find_python313() -> Path:
    """Python 3.13, which LocalStack's core needs, found as ``make`` finds it
    (scripts/python313.sh: $DRIFTLINE_PYTHON313, PATH, pyenv, Homebrew, uv's Pythons)."""
    result = subprocess.run(
        ["/bin/sh", str(PYTHON313_SCRIPT)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        # The script's own text names what is missing and every way to provide it.
        raise LocalCloudPrecondition(result.stderr.strip(), "", code="python313_missing")
    return Path(result.stdout.strip())


READY_MARKER = "Ready."  # localstack.constants.READY_MARKER_OUTPUT


def _digest(*paths: Path) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.read_bytes())
    return sha.hexdigest()


def _run(command: list[str], what: str, environment: dict[str, str] | None = None) -> None:
    env = {**os.environ, **environment} if environment else None
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise LocalCloudError(f"{what} failed:\n{result.stdout}\n{result.stderr}".rstrip())


def _alive(pid: int) -> bool:
    try:
        # When this process started LocalStack, an exited one must be reaped, or it
        # would linger as a zombie that still "exists".
        reaped, _ = os.waitpid(pid, os.WNOHANG)
        if reaped == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@dataclass(frozen=True)
class LocalCloud:
    host: str = "127.0.0.1"
    port: int = field(default_factory=lambda: int(os.environ.get("DRIFTLINE_LOCAL_PORT", "4566")))
    state: Path = ROOT / ".localcloud"
    services: str = SERVICES
    # Addresses the gateway listens on besides loopback: an explicit opt-in
    # (`driftline local up --listen ADDRESS`); anyone who reaches them can run code as
    # the user through the Lambda API.
    extra_listen: tuple[str, ...] = ()

    @property
    def listen(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*loopback_addresses(), *self.extra_listen)))

    # -- where things are ------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def venv_python(self) -> Path:
        return self.state / "venv" / "bin" / "python"

    @property
    def runtime_packages(self) -> Path:
        return self.state / "lambda-runtime"

    @property
    def frameworks(self) -> Path:
        """SageMaker framework environments: one virtual environment per entry of FRAMEWORKS."""
        return self.state / "frameworks"

    @property
    def log_file(self) -> Path:
        return self.state / "localstack.log"

    @property
    def _pid_file(self) -> Path:
        return self.state / "localstack.pid"

    @property
    def _marker(self) -> Path:
        return self.state / "installed.sha256"

    # -- install ---------------------------------------------------------------------
    def install(self, progress: Callable[[str], None] = lambda _: None) -> bool:
        """Create LocalStack's environment, the functions' runtime packages and the
        SageMaker framework environments.

        Returns False when everything was already in place.
        """
        # Framework environments hold native wheels for this host: a state folder
        # restored on another platform (a CI cache, a moved checkout) is rebuilt.
        platform = host_platform(current_host())
        wanted = (
            _digest(
                LOCAL / "requirements.txt",
                LOCAL / "lambda-runtime.txt",
                LOCAL / "pyproject.toml",
                *(LOCAL / "frameworks" / f"{name}.txt" for name in FRAMEWORKS),
            )
            + f" {platform.tag}"
        )
        if self._marker.is_file() and self._marker.read_text() == wanted:
            return False
        python313 = find_python313()
        uv = [sys.executable, "-m", "uv"]
        self.state.mkdir(parents=True, exist_ok=True)
        progress("creating LocalStack's virtual environment")
        _run(
            [
                *uv,
                "venv",
                "--quiet",
                "--allow-existing",
                "--python",
                str(python313),
                str(self.state / "venv"),
            ],
            "Creating LocalStack's virtual environment",
        )
        progress("installing LocalStack and the driftline plugin")
        _run(
            [
                *uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(self.venv_python),
                "-r",
                str(LOCAL / "requirements.txt"),
                "-e",
                str(LOCAL),
            ],
            "Installing LocalStack",
        )
        progress("installing the Lambda runtime's packages")
        shutil.rmtree(self.runtime_packages, ignore_errors=True)
        _run(
            [
                *uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(python313),
                "--target",
                str(self.runtime_packages),
                "-r",
                str(LOCAL / "lambda-runtime.txt"),
            ],
            "Installing the Lambda runtime's packages",
        )
        for name in FRAMEWORKS:
            progress(f"installing the SageMaker {name} framework environment")
            self._install_framework(uv, python313, name, platform)
        self._marker.write_text(wanted)
        return True

    def _install_framework(
        self, uv: list[str], python313: Path, name: str, platform: AssetPlatform
    ) -> None:
        """A framework image's stand-in: Python 3.13 with that image's pinned packages,
        as wheels for the host's platform (the one the layers get for the local target).

        Created afresh, so that a package dropped from the pins does not linger.
        """
        venv = self.frameworks / name
        shutil.rmtree(venv, ignore_errors=True)
        _run(
            [*uv, "venv", "--quiet", "--python", str(python313), str(venv)],
            f"Creating the SageMaker {name} framework environment",
        )
        _run(
            [
                *uv,
                "pip",
                "install",
                "--quiet",
                "--only-binary",
                ":all:",
                "--python-platform",
                platform.uv_platform,
                "--python",
                str(venv / "bin" / "python"),
                "-r",
                str(LOCAL / "frameworks" / f"{name}.txt"),
            ],
            f"Installing the SageMaker {name} framework packages for {platform.tag}",
            platform.environment,
        )

    # -- run -------------------------------------------------------------------------
    def _pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            return probe.connect_ex((self.host, self.port)) == 0

    def health(self) -> dict[str, str] | None:
        try:
            with urllib.request.urlopen(f"{self.endpoint}/_localstack/health", timeout=2) as r:
                services: dict[str, str] = json.load(r)["services"]
                return services
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None

    def is_running(self) -> bool:
        return self._pid() is not None and self.health() is not None

    def environment(self) -> dict[str, str]:
        address = f"{self.host}:{self.port}"
        tmp = self.state / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.state)),
            "LANG": "C.UTF-8",
            # Bound per interface by driftline_localcloud.serve (LocalStack's own
            # gateway would listen on every interface whatever this says).
            "GATEWAY_LISTEN": ",".join(host_port(a, self.port) for a in self.listen),
            # URLs LocalStack hands out (queue URLs, presigned URLs) must resolve with no
            # DNS of its own: use the loopback address, path-style.
            "LOCALSTACK_HOST": address,
            "SQS_ENDPOINT_STRATEGY": "path",
            "SERVICES": self.services,
            "LAMBDA_RUNTIME_EXECUTOR": "process",
            # Lambda retries a failed asynchronous invocation after 1 and 2 minutes on AWS
            # (LocalStack's default too); locally after 1 and 2 seconds, so a crash, its
            # retries and the failure destination play out while a developer watches.
            "LAMBDA_RETRY_BASE_DELAY": "1",
            # LocalStack's DynamoDB downloads a Java server at run time; the plugin's
            # serves it in memory instead.
            "PROVIDER_OVERRIDE_DYNAMODB": "driftline",
            # No SageMaker in the open-source core: the plugin's runs jobs and endpoints.
            "PROVIDER_OVERRIDE_SAGEMAKER": "driftline",
            "PROVIDER_OVERRIDE_SAGEMAKER_RUNTIME": "driftline",
            "DRIFTLINE_SAGEMAKER_FRAMEWORKS": str(self.frameworks),
            "DRIFTLINE_LAMBDA_RUNTIME_PACKAGES": str(self.runtime_packages),
            "FILESYSTEM_ROOT": str(self.state / "filesystem"),
            "TMPDIR": str(tmp),
            "DNS_ADDRESS": "0",
            "DISABLE_EVENTS": "1",
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "PERSISTENCE": "0",
            # Calls of functions, state machines and jobs are checked against their roles
            # (driftline_localcloud.iam); 0 turns that off for debugging.
            "DRIFTLINE_LOCAL_IAM": os.environ.get("DRIFTLINE_LOCAL_IAM", "1"),
            # Saved at shutdown, loaded at start (driftline.localcloud_state).
            "DRIFTLINE_LOCAL_STATE_DIR": str(kept.folder(self.state)) if kept.enabled() else "",
        }

    def start(self, timeout: float = 120) -> bool:
        """Start LocalStack and wait until its services answer. False if already running."""
        if self.is_running():
            return False
        if self.port_in_use():
            raise LocalCloudPrecondition(
                f"Port {self.port} on {self.host} is already in use by another program",
                "Stop it, or choose another port with DRIFTLINE_LOCAL_PORT.",
                code="port_taken",
            )
        if not self._marker.is_file():
            raise LocalCloudPrecondition(
                "The local cloud is not installed",
                "Run `driftline local up` (or `driftline local install`).",
                code="local_cloud_not_installed",
            )
        # LocalStack's own folders start empty; what a previous run kept is loaded from
        # the state folder (driftline.localcloud_state).
        shutil.rmtree(self.state / "tmp", ignore_errors=True)
        shutil.rmtree(self.state / "filesystem", ignore_errors=True)
        # The last run's log ends with its state's save: kept beside the new one.
        if self.log_file.is_file():
            self.log_file.replace(self.log_file.with_suffix(".previous.log"))
        with self.log_file.open("wb") as log:
            process = subprocess.Popen(
                [str(self.venv_python), "-m", "driftline_localcloud.serve"],
                env=self.environment(),
                cwd=self.state,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        wanted = set(self.services.split(","))
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalCloudError(
                    f"LocalStack exited with code {process.returncode} while starting. "
                    f"Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            services = self.health()
            if (
                services
                and all(services.get(s) in ("available", "running") for s in wanted)
                and self._ready_marked()
            ):
                self._refuse_unlisted_addresses(process.pid)
                return True
            time.sleep(0.2)
        self.stop()
        raise LocalCloudError(
            f"LocalStack did not become ready within {timeout:.0f} s. Last lines of "
            f"{self.log_file}:\n{self.log_tail()}"
        )

    def _ready_marked(self) -> bool:
        """LocalStack prints ``Ready.`` after its ready hooks, the kept state's load among
        them; services answer health checks before that."""
        try:
            return READY_MARKER in self.log_file.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return False

    def listening_addresses(self, pid: int) -> set[str]:
        return listening_addresses(pid)

    def _refuse_unlisted_addresses(self, pid: int) -> None:
        """Stops the local cloud if any of its sockets listens beyond what was asked.

        The serve module binds the gateway per interface; this check makes sure that
        nothing (a LocalStack change, a service that opens its own server) listens on
        another address, such as the wildcard ``0.0.0.0``.
        """
        allowed = {a.split("%", 1)[0] for a in self.listen}
        unexpected = sorted(self.listening_addresses(pid) - allowed)
        if unexpected:
            self.stop()
            raise LocalCloudError(
                f"The local cloud listened on {', '.join(unexpected)} besides "
                f"{', '.join(sorted(allowed))}, and was stopped: it must not be reachable "
                "from other machines. See the last lines of "
                f"{self.log_file}:\n{self.log_tail()}"
            )

    def stop(self, timeout: float = 120) -> bool:
        """Stop LocalStack and the function processes it started. False if not running."""
        pid = self._pid()
        if pid is None:
            self._pid_file.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._pid() is not None:
            time.sleep(0.2)
        if self._pid() is not None:
            os.killpg(pid, signal.SIGKILL)
            while self._pid() is not None and time.monotonic() < deadline + 10:
                time.sleep(0.1)
        self._pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
