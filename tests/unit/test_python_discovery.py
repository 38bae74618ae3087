"""Finding Python 3.13 (scripts/python313.sh, which make and the CLI share) on simulated
hosts: fake interpreters answer the script's probe, a fake uname names the OS, and a
fake uv stands in for a managed-Python download (this machine fetches no interpreters).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "python313.sh"
FETCHED = "fetched-python"


def executable(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def fake_python(path: Path, *, is_313: bool = True) -> Path:
    """Answers the script's probe as a CPython 3.13 with the GIL would, or as another."""
    answer = "True" if is_313 else "False"
    return executable(path, f'[ "$1" = -c ] && echo {answer}\n')


@dataclass
class SimulatedHost:
    root: Path
    system: str = "Linux"
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bin = self.root / "bin"
        self.home = self.root / "home dir"  # a space, as macOS users' paths often have
        self.home.mkdir(parents=True)
        executable(self.bin / "uname", f"echo {self.system}\n")
        # The few tools the script and the fakes use; no interpreter comes along.
        for tool in ("dirname", "mkdir", "chmod", "cp"):
            (self.bin / tool).symlink_to(shutil.which(tool) or f"/bin/{tool}")
        self.env.update({"PATH": str(self.bin), "HOME": str(self.home)})

    def run(self, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["/bin/sh", str(SCRIPT)],
            env={**self.env, **extra},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def found(self, **extra: str) -> str:
        result = self.run(**extra)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()


@pytest.fixture
def linux(tmp_path: Path) -> SimulatedHost:
    return SimulatedHost(tmp_path)


@pytest.fixture
def macos(tmp_path: Path) -> SimulatedHost:
    return SimulatedHost(tmp_path, system="Darwin")


def test_an_explicit_interpreter_wins(linux: SimulatedHost) -> None:
    fake_python(linux.bin / "python3.13")
    chosen = fake_python(linux.root / "custom" / "python")
    assert linux.found(DRIFTLINE_PYTHON313=str(chosen)) == str(chosen)


def test_an_explicit_interpreter_that_is_not_313_is_an_error_not_skipped(
    linux: SimulatedHost,
) -> None:
    # Given a good python3.13 on the PATH, but DRIFTLINE_PYTHON313 naming a 3.11
    fake_python(linux.bin / "python3.13")
    wrong = fake_python(linux.root / "python3.11", is_313=False)
    result = linux.run(DRIFTLINE_PYTHON313=str(wrong))
    # Then the user hears that their setting is wrong
    assert result.returncode == 1
    assert f"DRIFTLINE_PYTHON313={wrong} is not a CPython 3.13" in result.stderr


def test_the_path_comes_before_pyenv(linux: SimulatedHost) -> None:
    on_path = fake_python(linux.bin / "python3.13")
    fake_python(linux.home / ".pyenv" / "versions" / "3.13.1" / "bin" / "python3.13")
    assert linux.found() == str(on_path)


def test_a_pyenv_shim_that_selects_another_version_is_passed_over(linux: SimulatedHost) -> None:
    # Given pyenv's shim on the PATH with 3.11 selected, and 3.13.1 installed in pyenv
    fake_python(linux.bin / "python3.13", is_313=False)
    installed = fake_python(linux.home / ".pyenv" / "versions" / "3.13.1" / "bin" / "python3.13")
    assert linux.found() == str(installed)
    # And PYENV_ROOT moves where pyenv's versions are
    moved = fake_python(linux.root / "pyenv" / "versions" / "3.13.2" / "bin" / "python3.13")
    assert linux.found(PYENV_ROOT=str(linux.root / "pyenv")) == str(moved)


def test_homebrew_python_is_found_by_its_prefix(macos: SimulatedHost) -> None:
    prefix = macos.root / "opt" / "homebrew"
    brewed = fake_python(prefix / "opt" / "python@3.13" / "bin" / "python3.13")
    # Given Homebrew's shell environment / Then its python@3.13
    assert macos.found(HOMEBREW_PREFIX=str(prefix)) == str(brewed)
    # Given only brew on the PATH / Then brew --prefix leads there
    executable(macos.bin / "brew", f'[ "$1" = --prefix ] && echo "{prefix}"\n')
    assert macos.found() == str(brewed)


def test_a_python_uv_installed_is_found_but_not_the_free_threaded_one(
    macos: SimulatedHost,
) -> None:
    pythons = macos.home / ".local" / "share" / "uv" / "python"
    fake_python(
        pythons / "cpython-3.13.5+freethreaded-macos-aarch64-none/bin/python3.13", is_313=False
    )
    managed = fake_python(pythons / "cpython-3.13.5-macos-aarch64-none" / "bin" / "python3.13")
    assert macos.found() == str(managed)


def test_none_found_on_macos_suggests_homebrew_first_and_fetches_nothing(
    macos: SimulatedHost,
) -> None:
    # Given no 3.13 but a uv on the PATH that records any call
    calls = macos.root / "uv-calls"
    executable(macos.bin / "uv", f'echo "$@" >> "{calls}"\nexit 1\n')
    result = macos.run()
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Python 3.13 was not found")
    assert "brew install python@3.13" in lines[1]
    assert "pyenv install 3.13" in lines[2]
    assert "uv python install 3.13" in result.stderr
    assert "DRIFTLINE_FETCH_PYTHON=1" in result.stderr
    # And without the opt-in uv was never asked to download anything
    assert not calls.exists()


def test_none_found_on_linux_suggests_pyenv_first(linux: SimulatedHost) -> None:
    result = linux.run()
    assert result.returncode == 1
    assert "pyenv install 3.13" in result.stderr.splitlines()[1]


def fake_uv(path: Path, install_dir: Path, log: Path, *, fails: bool = False) -> Path:
    """A uv whose `python install` "downloads" a fake 3.13 into install_dir; that
    Python answers the probe and logs anything else it is asked to do (and fails it)."""
    executable(
        path.parent / FETCHED,
        f'[ "$1" = -c ] && {{ echo True; exit 0; }}\necho "python $*" >> "{log}"\nexit 1\n',
    )
    python = install_dir / "cpython-3.13.9-linux-x86_64-gnu" / "bin" / "python3.13"
    return executable(
        path,
        f'echo "UV_PYTHON_DOWNLOADS=$UV_PYTHON_DOWNLOADS $*" >> "{log}"\n'
        + ("exit 1\n" if fails else "")
        + 'case "$*" in\n'
        + f'  *"python install 3.13"*) mkdir -p "{python.parent}"; '
        + f'cp "{path.parent / FETCHED}" "{python}";;\n'
        + f'  *"python find --managed-python 3.13"*) echo "{python}";;\n'
        + "esac\n",
    )


def test_fetch_opt_in_lets_uv_install_a_managed_python(linux: SimulatedHost) -> None:
    log = linux.root / "uv.log"
    install_dir = linux.root / "uv-pythons"
    uv = fake_uv(linux.root / "tools" / "uv", install_dir, log)
    # Given no 3.13 and the project's ban on downloads in the environment
    result = linux.run(
        DRIFTLINE_FETCH_PYTHON="1",
        DRIFTLINE_UV=str(uv),
        UV_PYTHON_INSTALL_DIR=str(install_dir),
        UV_PYTHON_DOWNLOADS="never",
    )
    # Then uv was allowed this one explicit install, and its Python is the answer
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(install_dir))
    calls = log.read_text().splitlines()
    assert calls[0] == "UV_PYTHON_DOWNLOADS=manual --no-config python install 3.13"
    assert calls[1] == "UV_PYTHON_DOWNLOADS=never --no-config python find --managed-python 3.13"
    # And the next run finds it without uv, where uv puts Pythons
    assert linux.found(UV_PYTHON_INSTALL_DIR=str(install_dir)) == result.stdout.strip()


def test_a_failed_fetch_says_so_and_how_to_install_instead(linux: SimulatedHost) -> None:
    log = linux.root / "uv.log"
    uv = fake_uv(linux.bin / "uv", linux.root / "uv-pythons", log, fails=True)
    result = linux.run(DRIFTLINE_FETCH_PYTHON="1")
    assert result.returncode == 1
    assert "uv could not fetch Python 3.13" in result.stderr
    assert "pyenv install 3.13" in result.stderr
    assert log.read_text().count("python install") == 1, uv


def test_fetch_without_uv_installs_the_pinned_uv_with_any_python3(linux: SimulatedHost) -> None:
    # Given no uv anywhere, only an old python3 whose venv and pip are simulated
    bootstrap = linux.root / "bootstrap"
    log = linux.root / "uv.log"
    fake_uv(linux.root / "template-uv", linux.root / "uv-pythons", log)
    executable(
        linux.bin / "python3",
        '[ "$1 $2" = "-m venv" ] || exit 1\nmkdir -p "$3/bin"\n'
        f'printf \'#!/bin/sh\\necho "$*" > "{linux.root}/pip-args"\\n'
        f'cp "{linux.root}/template-uv" "{bootstrap}/bin/uv"\\n\' > "$3/bin/python"\n'
        'chmod +x "$3/bin/python"\n',
    )
    result = linux.run(
        DRIFTLINE_FETCH_PYTHON="1",
        DRIFTLINE_UV_BOOTSTRAP=str(bootstrap),
        UV_PYTHON_INSTALL_DIR=str(linux.root / "uv-pythons"),
        UV_VERSION="0.13.8",
    )
    assert result.returncode == 0, result.stderr
    # Then the project's pinned uv was installed, and it fetched Python 3.13
    pip = (linux.root / "pip-args").read_text()
    assert "-m pip install" in pip and "uv==0.13.8" in pip
    assert "python install 3.13" in log.read_text()


def make_project(host: SimulatedHost) -> Path:
    """A copy of the Makefile and the script, with the files its first recipe needs."""
    project = host.root / "project"
    (project / "scripts").mkdir(parents=True)
    shutil.copy(ROOT / "Makefile", project / "Makefile")
    shutil.copy(SCRIPT, project / "scripts" / "python313.sh")
    (project / "pyproject.toml").write_text("")
    (project / "uv.lock").write_text("")
    return project


def run_make(
    host: SimulatedHost, project: Path, *arguments: str
) -> subprocess.CompletedProcess[str]:
    make = shutil.which("make")
    assert make is not None
    return subprocess.run(
        [make, "-C", str(project), ".venv/.synced", *arguments],
        env=host.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_make_without_python313_stops_with_the_suggestions(macos: SimulatedHost) -> None:
    project = make_project(macos)
    result = run_make(macos, project)
    assert result.returncode != 0
    assert "Python 3.13 was not found" in result.stderr
    assert "brew install python@3.13" in result.stderr
    assert not (project / ".venv").exists()


def test_make_with_the_fetch_opt_in_builds_the_environment_from_uvs_python(
    linux: SimulatedHost,
) -> None:
    # Given no Python 3.13, a uv, and `make .venv/.synced DRIFTLINE_FETCH_PYTHON=1`
    project = make_project(linux)
    install_dir = linux.root / "uv-pythons"
    log = linux.root / "uv.log"
    fake_uv(linux.bin / "uv", install_dir, log)
    linux.env["UV_PYTHON_INSTALL_DIR"] = str(install_dir)
    result = run_make(linux, project, "DRIFTLINE_FETCH_PYTHON=1")
    # Then uv fetched Python 3.13 (the Makefile's own ban on downloads lifted for it),
    # and make went on to create the project's environment with it
    assert "UV_PYTHON_DOWNLOADS=manual --no-config python install 3.13" in log.read_text()
    assert "fetching a managed Python 3.13 with uv" in result.stderr
    assert "python -m venv .venv" in log.read_text()
    # (the fake interpreter makes no environment, so make stops there)
    assert result.returncode != 0
