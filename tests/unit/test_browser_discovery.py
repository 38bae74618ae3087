"""Which browser the report's test drives, and how one is installed, on simulated hosts.

Fake browsers answer ``--version`` as Chromium and Chrome do; installers are recorded
instead of run, so no package manager and no download is touched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.report.browser import (
    BrowserMissing,
    Machine,
    chromium_version,
    ensure_browser,
    find_browser,
)

DEBIAN = {"ID": "debian", "VERSION_ID": "12"}
UBUNTU = {"ID": "ubuntu", "ID_LIKE": "debian", "VERSION_ID": "24.04"}


def fake_browser(path: Path, version: str = "Chromium 156.0.8078.108") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\n[ "$1" = --version ] && echo "{version}"\n')
    path.chmod(0o755)
    return path


def snap_stub(path: Path) -> Path:
    """Ubuntu's /usr/bin/chromium-browser without the snap: it only says so."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "#!/bin/sh\necho \"Command '/usr/bin/chromium-browser' requires the chromium snap "
        'to be installed."\nexit 1\n'
    )
    path.chmod(0o755)
    return path


class Recorder:
    """Stands in for running installers: records commands, answers with set results."""

    def __init__(self, results: Mapping[str, tuple[int, str]] | None = None) -> None:
        self.commands: list[list[str]] = []
        self.results = dict(results or {})
        self.on_success: dict[str, Path] = {}
        self.environments: Mapping[str, str] = {}

    def __call__(self, command: Sequence[str], environment: Mapping[str, str]) -> tuple[int, str]:
        self.commands.append(list(command))
        self.environments = environment
        for key, result in self.results.items():
            if key in " ".join(command):
                if result[0] == 0 and key in self.on_success:
                    fake_browser(self.on_success[key])
                return result
        return 0, ""


def machine(
    tmp_path: Path,
    *,
    system: str = "Linux",
    os_release: Mapping[str, str] = DEBIAN,
    environ: Mapping[str, str] | None = None,
    is_root: bool = True,
    playwright: Path | None = None,
    run: Recorder | None = None,
) -> Machine:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    return Machine(
        environ={"PATH": str(bin_dir), **(environ or {})},
        system=system,
        os_release=os_release,
        is_root=is_root,
        python="/venv/bin/python",
        applications=(tmp_path / "Applications",),
        version=chromium_version,
        playwright_path=lambda: str(playwright) if playwright and playwright.is_file() else None,
        run=run or Recorder(),
        say=lambda line: None,
    )


def test_the_explicit_variable_wins_over_the_path(tmp_path: Path) -> None:
    fake_browser(tmp_path / "bin" / "chromium")
    chosen = fake_browser(tmp_path / "opt" / "chrome", "Google Chrome 150.0.1")
    found = find_browser(machine(tmp_path, environ={"DRIFTLINE_CHROMIUM": str(chosen)}))
    assert found is not None
    assert (found.path, found.version, found.source) == (
        str(chosen),
        "Google Chrome 150.0.1",
        "DRIFTLINE_CHROMIUM",
    )


def test_an_explicit_variable_naming_no_browser_is_an_error(tmp_path: Path) -> None:
    fake_browser(tmp_path / "bin" / "chromium")
    with pytest.raises(BrowserMissing, match="DRIFTLINE_CHROMIUM=/nowhere/chrome is not a working"):
        find_browser(machine(tmp_path, environ={"DRIFTLINE_CHROMIUM": "/nowhere/chrome"}))


def test_chromium_on_the_path_comes_before_chrome(tmp_path: Path) -> None:
    fake_browser(tmp_path / "bin" / "google-chrome", "Google Chrome 150.0.1")
    chromium = fake_browser(tmp_path / "bin" / "chromium")
    found = find_browser(machine(tmp_path))
    assert found is not None and found.path == str(chromium)


def test_ubuntus_snap_stub_is_passed_over_for_chrome(tmp_path: Path) -> None:
    # Given Ubuntu with the chromium-browser stub and Google Chrome (as on CI runners)
    snap_stub(tmp_path / "bin" / "chromium-browser")
    chrome = fake_browser(tmp_path / "bin" / "google-chrome", "Google Chrome 150.0.1")
    found = find_browser(machine(tmp_path, os_release=UBUNTU))
    assert found is not None and found.path == str(chrome)


def test_on_macos_chrome_in_applications_is_found_off_the_path(tmp_path: Path) -> None:
    app = tmp_path / "Applications" / "Google Chrome.app" / "Contents" / "MacOS" / "Google Chrome"
    fake_browser(app, "Google Chrome 150.0.1")
    found = find_browser(machine(tmp_path, system="Darwin", os_release={}))
    assert found is not None
    assert found.path == str(app) and found.source == str(tmp_path / "Applications")
    # A Linux host does not look there
    assert find_browser(machine(tmp_path, system="Linux", os_release=UBUNTU)) is None


def test_playwrights_installed_chromium_is_used_when_nothing_else_is_there(
    tmp_path: Path,
) -> None:
    managed = fake_browser(tmp_path / "ms-playwright" / "chromium-1255" / "chrome")
    found = find_browser(machine(tmp_path, playwright=managed))
    assert found is not None
    assert (found.path, found.source) == (str(managed), "Playwright's Chromium")


def test_a_found_browser_installs_nothing(tmp_path: Path) -> None:
    fake_browser(tmp_path / "bin" / "chromium")
    recorder = Recorder()
    ensure_browser(machine(tmp_path, run=recorder))
    assert recorder.commands == []


def test_where_none_is_found_playwrights_chromium_is_installed_first(tmp_path: Path) -> None:
    # Given a Mac with no browser, where Playwright can download its own
    managed = tmp_path / "ms-playwright" / "chromium-1255" / "chrome"
    recorder = Recorder({"playwright install chromium": (0, "")})
    recorder.on_success["playwright install chromium"] = managed
    host = machine(tmp_path, system="Darwin", os_release={}, playwright=managed, run=recorder)
    found = ensure_browser(host)
    # Then Playwright installed it, with a bounded connection timeout, and nothing else ran
    assert recorder.commands == [["/venv/bin/python", "-m", "playwright", "install", "chromium"]]
    assert recorder.environments["PLAYWRIGHT_DOWNLOAD_CONNECTION_TIMEOUT"] == "15000"
    assert found.path == str(managed)


def test_on_debian_the_package_is_the_fallback_when_playwright_cannot_download(
    tmp_path: Path,
) -> None:
    # Given Debian, as root, with apt-get, where Playwright's download fails (closed network)
    fake_browser(tmp_path / "bin" / "apt-get")  # only needs to exist on the PATH
    recorder = Recorder({"playwright": (1, "Error: getaddrinfo ENOTFOUND")})
    recorder.results["install -y -qq chromium"] = (0, "")
    recorder.on_success["install -y -qq chromium"] = tmp_path / "bin" / "chromium"
    found = ensure_browser(machine(tmp_path, run=recorder))
    # Then Debian's chromium package was installed after Playwright's attempt
    apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    assert recorder.commands[1:] == [
        [*apt, "update", "-qq"],
        [*apt, "install", "-y", "-qq", "chromium"],
    ]
    assert found.path == str(tmp_path / "bin" / "chromium")
    assert found.source == "Debian's chromium package, installed now"


def test_on_debian_without_root_apt_runs_through_sudo(tmp_path: Path) -> None:
    for tool in ("apt-get", "sudo"):
        fake_browser(tmp_path / "bin" / tool)
    recorder = Recorder({"playwright": (1, "no network")})
    recorder.on_success["install -y -qq chromium"] = tmp_path / "bin" / "chromium"
    recorder.results["install -y -qq chromium"] = (0, "")
    ensure_browser(machine(tmp_path, is_root=False, run=recorder))
    assert all(command[0] == "sudo" for command in recorder.commands[1:])


@pytest.mark.parametrize(
    ("system", "os_release", "tools"),
    [
        ("Darwin", {}, ()),  # macOS: no apt at all
        ("Linux", UBUNTU, ("apt-get", "sudo")),  # Ubuntu: apt, but chromium is a snap there
        ("Linux", {"ID": "fedora"}, ("dnf",)),
        ("Linux", DEBIAN, ()),  # Debian without apt-get on the PATH
    ],
)
def test_elsewhere_a_missing_browser_is_a_clear_message_and_apt_is_never_called(
    tmp_path: Path, system: str, os_release: Mapping[str, str], tools: tuple[str, ...]
) -> None:
    for tool in tools:
        fake_browser(tmp_path / "bin" / tool)
    recorder = Recorder({"playwright": (1, "Host system is missing dependencies")})
    host = machine(tmp_path, system=system, os_release=os_release, run=recorder)
    with pytest.raises(BrowserMissing) as missing:
        ensure_browser(host)
    # Then only Playwright's install was tried, and the message says what was and what to do
    assert [command[2:4] for command in recorder.commands] == [["playwright", "install"]]
    message = str(missing.value)
    assert "DRIFTLINE_CHROMIUM (not set)" in message
    assert "installing Playwright's Chromium: Host system is missing dependencies" in message
    assert "point DRIFTLINE_CHROMIUM at a Chromium or Chrome executable" in message
    assert "playwright install chromium" in message


def test_a_failing_apt_is_reported_with_its_own_words(tmp_path: Path) -> None:
    fake_browser(tmp_path / "bin" / "apt-get")
    recorder = Recorder({"playwright": (1, "no network"), "update": (100, "E: Could not get lock")})
    with pytest.raises(BrowserMissing, match="apt-get update -qq` failed: E: Could not get lock"):
        ensure_browser(machine(tmp_path, run=recorder))
