"""The local cloud: an AWS emulator on the host, with driftline's additions.

The emulator (the *base*: MiniStack with driftline's additions; see
``localcloud_base``) needs Python 3.13 and its own pins, so it gets a virtual
environment of its own under ``.localcloud/``. Everything it writes (its files, S3
objects, unpacked functions, logs) stays under that folder too, and it listens on
loopback only. ``install`` is idempotent (a digest of the requirement files decides
whether anything is to do); ``start`` and ``stop`` are bounded by deadlines.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from driftline import localcloud_state as kept
from driftline.errors import DriftlineError, PreconditionFailed
from driftline.localcloud_base import (
    MINISTACK,
    Base,
    BaseError,
    refuse_other_base,
    retire_localstack,
)
from driftline.localcloud_network import listening_addresses, loopback_addresses

ROOT = Path(__file__).resolve().parent.parent
PYTHON313_SCRIPT = ROOT / "scripts" / "python313.sh"
SERVICES = (
    "s3,lambda,stepfunctions,events,iam,sts,cloudformation,ssm,logs,sqs,sns,dynamodb,kms,sagemaker,"
    "sagemaker-runtime,cloudwatch"
)
ACCOUNT_ID = "000000000000"
REGION = "us-east-1"


class LocalCloudError(DriftlineError):
    """The local cloud cannot be installed, started or stopped; the message says why."""


class LocalCloudPrecondition(LocalCloudError, PreconditionFailed):
    """Something the user must provide first: Python 3.13, a free port, an installation."""


def find_python313() -> Path:
    """Python 3.13, which MiniStack's environment needs, found as ``make`` finds it
    (scripts/python313.sh: $DRIFTLINE_PYTHON313, PATH, pyenv, Homebrew, uv's Pythons)."""
    result = subprocess.run(
        ["/bin/sh", str(PYTHON313_SCRIPT)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        # The script's own text names what is missing and every way to provide it.
        raise LocalCloudPrecondition(result.stderr.strip(), "", code="python313_missing")
    return Path(result.stdout.strip())


def _alive(pid: int) -> bool:
    try:
        # When this process started the local cloud, an exited one must be reaped, or it
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
    # IAM enforcement on calls made with the app's roles and state kept across restarts;
    # None (the default) reads $DRIFTLINE_LOCAL_IAM and $DRIFTLINE_LOCAL_PERSISTENCE when
    # the local cloud starts (both on unless 0; driftline.localcloud_state), as the demo
    # turns persistence off in-process for a local cloud made before.
    iam: bool | None = None
    persistence: bool | None = None

    def __post_init__(self) -> None:
        try:
            refuse_other_base()
        except BaseError as error:
            raise LocalCloudError(str(error)) from None

    @property
    def enforces_iam(self) -> bool:
        return _flag("DRIFTLINE_LOCAL_IAM", "1") if self.iam is None else self.iam

    @property
    def keeps_state(self) -> bool:
        return kept.enabled() if self.persistence is None else self.persistence

    @property
    def base(self) -> Base:
        return MINISTACK

    @property
    def listen(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*loopback_addresses(), *self.extra_listen)))

    # -- where things are ------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def venv_python(self) -> Path:
        return self.base.venv(self) / "bin" / "python"

    @property
    def frameworks(self) -> Path:
        """SageMaker framework environments (``localcloud_base.FRAMEWORKS``)."""
        return self.state / "frameworks"

    @property
    def log_file(self) -> Path:
        return self.state / f"{self.base.name}.log"

    @property
    def pid_file(self) -> Path:
        return self.state / f"{self.base.name}.pid"

    # -- install ---------------------------------------------------------------------
    def install(self, progress: Callable[[str], None] = lambda _: None) -> bool:
        """Create the base's environment and the SageMaker framework environments.

        Returns False when everything was already in place.
        """
        retire_localstack(self.state, progress)
        if self.base.installed(self):
            return False
        python313 = find_python313()
        self.state.mkdir(parents=True, exist_ok=True)
        try:
            self.base.install(self, python313, progress)
        except BaseError as error:
            raise LocalCloudError(str(error)) from None
        return True

    # -- run -------------------------------------------------------------------------
    def _pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def port_in_use(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            return probe.connect_ex((self.host, self.port)) == 0

    def health(self) -> dict[str, str] | None:
        try:
            url = f"{self.endpoint}{self.base.health_path}"
            with urllib.request.urlopen(url, timeout=2) as r:
                services: dict[str, str] = json.load(r)["services"]
                return services
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None

    def is_running(self) -> bool:
        return self._pid() is not None and self.health() is not None

    def environment(self) -> dict[str, str]:
        tmp = self.state / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", str(self.state)),
            "LANG": "C.UTF-8",
            **self.base.environment(self),
        }

    def start(self, timeout: float = 120) -> bool:
        """Start the base and wait until its services answer. False if already running."""
        if self.is_running():
            return False
        if self.port_in_use():
            raise LocalCloudPrecondition(
                f"Port {self.port} on {self.host} is already in use by another program",
                "Stop it, or choose another port with DRIFTLINE_LOCAL_PORT.",
                code="port_taken",
            )
        if not self.base.marker(self).is_file():
            raise LocalCloudPrecondition(
                "The local cloud is not installed",
                "Run `driftline local up` (or `driftline local install`).",
                code="local_cloud_not_installed",
            )
        # A previous run's state is reused only where persistence keeps it on purpose
        # (what a previous run kept is loaded from the state folder,
        # driftline.localcloud_state).
        for folder in self.base.fresh_state(self):
            shutil.rmtree(folder, ignore_errors=True)
        # The last run's log ends with its state's save: kept beside the new one.
        if self.log_file.is_file():
            self.log_file.replace(self.log_file.with_suffix(".previous.log"))
        environment = self.environment()
        with self.log_file.open("wb") as log:
            process = subprocess.Popen(
                [str(self.venv_python), "-m", self.base.serve_module],
                env=environment,
                cwd=self.state,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        wanted = self.base.health_services(self)
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LocalCloudError(
                    f"{self.base.title} exited with code {process.returncode} while starting. "
                    f"Last lines of {self.log_file}:\n{self.log_tail()}"
                )
            services = self.health()
            if services and all(services.get(s) in ("available", "running") for s in wanted):
                self._refuse_unlisted_addresses(process.pid)
                return True
            time.sleep(0.2)
        self.stop()
        raise LocalCloudError(
            f"{self.base.title} did not become ready within {timeout:.0f} s. Last lines of "
            f"{self.log_file}:\n{self.log_tail()}"
        )

    def listening_addresses(self, pid: int) -> set[str]:
        return listening_addresses(pid)

    def _refuse_unlisted_addresses(self, pid: int) -> None:
        """Stops the local cloud if any of its sockets listens beyond what was asked.

        The serve module binds the gateway per interface; this check makes sure that
        nothing (a change in the base, a service that opens its own server) listens on
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
        """Stop the base and the function processes it started. False if not running."""
        pid = self._pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._pid() is not None:
            time.sleep(0.2)
        if self._pid() is not None:
            os.killpg(pid, signal.SIGKILL)
            while self._pid() is not None and time.monotonic() < deadline + 10:
                time.sleep(0.1)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _flag(variable: str, default: str = "0") -> bool:
    return os.environ.get(variable, default).lower() in ("1", "true", "yes", "on")
