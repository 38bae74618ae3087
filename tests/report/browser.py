"""The browser that the report's test drives: the one this machine has.

Looked for in this order: ``DRIFTLINE_CHROMIUM``; Chromium or Chrome on the PATH; the
macOS application folders; Playwright's own Chromium once it is installed. ``ensure``
(what ``make test`` runs first, as ``python -m tests.report.browser``) installs one
where none is found: Playwright's Chromium where Playwright can install it, then, on
Debian only, Debian's ``chromium`` package. When all of that fails it says what was
tried and what to do, and never calls a package manager the machine does not have.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

VARIABLE = "DRIFTLINE_CHROMIUM"
# Names on the PATH, Chromium first. Ubuntu's chromium-browser may be a stub asking for a
# snap: every candidate is asked for its version before it is taken.
PATH_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
MACOS_APPLICATIONS = (
    "Chromium.app/Contents/MacOS/Chromium",
    "Google Chrome.app/Contents/MacOS/Google Chrome",
)
VERSION_TIMEOUT_SECONDS = 30
# A browser download is some 150 MB; a stuck one must not eat the CI job.
INSTALL_TIMEOUT_SECONDS = 600
# Playwright tries its download hosts five times; a closed network should fail fast.
PLAYWRIGHT_CONNECTION_TIMEOUT_MS = "15000"


class BrowserMissing(RuntimeError):
    """No usable Chromium or Chrome; the message lists what was tried and what to do."""


def chromium_version(executable: str) -> str | None:
    """The browser's own ``--version`` line, or None if it is no working Chromium/Chrome."""
    try:
        result = subprocess.run(
            [executable, "--version"],
            capture_output=True,
            text=True,
            timeout=VERSION_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = result.stdout.strip().splitlines()[0] if result.stdout.strip() else ""
    if result.returncode != 0 or not any(name in line for name in ("Chromium", "Chrome")):
        return None
    return line


def playwright_chromium() -> str | None:
    """Where Playwright keeps its own Chromium, if it is installed there."""
    from playwright.sync_api import Error, sync_playwright

    try:
        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except (Error, OSError):
        return None
    return path if Path(path).is_file() else None


def run_command(command: Sequence[str], environment: Mapping[str, str]) -> tuple[int, str]:
    try:
        result = subprocess.run(
            list(command),
            env=dict(environment),
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return 1, str(error)
    return result.returncode, (result.stdout + result.stderr).strip()


def read_os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return values
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip().strip('"')
    return values


@dataclass
class Machine:
    """What browser discovery looks at and runs; tests simulate a host by replacing it."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    system: str = field(default_factory=platform.system)
    os_release: Mapping[str, str] = field(default_factory=read_os_release)
    is_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    python: str = sys.executable
    applications: Sequence[Path] = field(
        default_factory=lambda: (Path("/Applications"), Path.home() / "Applications")
    )
    version: Callable[[str], str | None] = chromium_version
    playwright_path: Callable[[], str | None] = playwright_chromium
    run: Callable[[Sequence[str], Mapping[str, str]], tuple[int, str]] = run_command
    say: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))

    def which(self, name: str) -> str | None:
        return shutil.which(name, path=self.environ.get("PATH", ""))

    @property
    def is_debian(self) -> bool:
        """Debian itself: derivatives such as Ubuntu ship Chromium as a snap instead."""
        return self.os_release.get("ID") == "debian"


@dataclass(frozen=True)
class Browser:
    path: str
    version: str
    source: str  # where it was found, for the log line


def find_browser(machine: Machine, tried: list[str] | None = None) -> Browser | None:
    """The browser the machine has, or None (``tried`` collects what was looked at)."""
    tried = [] if tried is None else tried
    explicit = machine.environ.get(VARIABLE)
    if explicit:
        version = machine.version(explicit)
        if version is None:
            raise BrowserMissing(
                f"{VARIABLE}={explicit} is not a working Chromium or Chrome (its --version "
                "failed); point it at the browser's executable or unset it."
            )
        return Browser(explicit, version, VARIABLE)
    tried.append(f"{VARIABLE} (not set)")
    for name in PATH_NAMES:
        path = machine.which(name)
        if path and (version := machine.version(path)):
            return Browser(path, version, f"{name} on the PATH")
    tried.append(f"the PATH ({', '.join(PATH_NAMES)})")
    if machine.system == "Darwin":
        for folder in machine.applications:
            for app in MACOS_APPLICATIONS:
                path = str(folder / app)
                if Path(path).is_file() and (version := machine.version(path)):
                    return Browser(path, version, str(folder))
        tried.append(" and ".join(str(folder) for folder in machine.applications))
    path = machine.playwright_path()
    if path and (version := machine.version(path)):
        return Browser(path, version, "Playwright's Chromium")
    tried.append("Playwright's Chromium (not installed)")
    return None


def install_playwright_chromium(machine: Machine, tried: list[str]) -> Browser | None:
    machine.say("no Chromium or Chrome found: installing Playwright's Chromium")
    environment = {
        **machine.environ,
        "PLAYWRIGHT_DOWNLOAD_CONNECTION_TIMEOUT": PLAYWRIGHT_CONNECTION_TIMEOUT_MS,
    }
    code, output = machine.run(
        [machine.python, "-m", "playwright", "install", "chromium"], environment
    )
    if code == 0:
        path = machine.playwright_path()
        if path and (version := machine.version(path)):
            return Browser(path, version, "Playwright's Chromium, installed now")
    tried.append(f"installing Playwright's Chromium: {_last_line(output) or 'no browser'}")
    return None


def install_debian_chromium(machine: Machine, tried: list[str]) -> Browser | None:
    """Debian's chromium package, with sudo when not root; only on Debian with apt-get."""
    if not machine.is_debian or machine.which("apt-get") is None:
        return None
    sudo = [] if machine.is_root else ["sudo"]
    if sudo and machine.which("sudo") is None:
        tried.append("Debian's chromium package: not root, and no sudo to install it with")
        return None
    machine.say("installing Debian's chromium package")
    apt = [*sudo, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    for command in ([*apt, "update", "-qq"], [*apt, "install", "-y", "-qq", "chromium"]):
        code, output = machine.run(command, machine.environ)
        if code != 0:
            tried.append(f"`{' '.join(command)}` failed: {_last_line(output)}")
            return None
    path = machine.which("chromium")
    if path and (version := machine.version(path)):
        return Browser(path, version, "Debian's chromium package, installed now")
    tried.append("Debian's chromium package installed, but no working chromium on the PATH")
    return None


def ensure_browser(machine: Machine) -> Browser:
    """The machine's browser, installing one where there is none."""
    tried: list[str] = []
    found = (
        find_browser(machine, tried)
        or install_playwright_chromium(machine, tried)
        or install_debian_chromium(machine, tried)
    )
    if found is None:
        raise BrowserMissing(missing_message(tried))
    return found


def missing_message(tried: list[str]) -> str:
    return (
        "No Chromium or Chrome for the report's browser test. Tried: "
        + "; ".join(tried)
        + f".\nAny of these fixes it: install Chromium or Google Chrome; point {VARIABLE} "
        "at a Chromium or Chrome executable; or run `.venv/bin/python -m playwright install "
        "chromium` where Playwright can download its browser."
    )


def _last_line(output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def main() -> int:
    """Print the browser's path (installing one if needed), or say what to do."""
    try:
        browser = ensure_browser(Machine())
    except BrowserMissing as error:
        print(error, file=sys.stderr)
        return 1
    print(f"report test browser: {browser.version} ({browser.source})", file=sys.stderr)
    print(browser.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
