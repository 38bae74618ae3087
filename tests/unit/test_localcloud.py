"""The local cloud launcher's checks that need no running local cloud."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from driftline import localcloud, localcloud_base, localcloud_network
from driftline import localcloud_state as kept
from driftline.localcloud import LocalCloud, LocalCloudError


def test_missing_python313_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no python3.13 anywhere
    monkeypatch.delenv("DRIFTLINE_PYTHON313", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("HOMEBREW_PREFIX", "UV_PYTHON_INSTALL_DIR", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    # Then the error says what is missing and how to provide it
    with pytest.raises(LocalCloudError, match="(?s)Python 3.13 was not found.*DRIFTLINE_PYTHON313"):
        localcloud.find_python313()


def test_a_wrong_interpreter_is_not_taken_for_313(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given DRIFTLINE_PYTHON313 pointing at a program that is not Python 3.13
    fake = tmp_path / "python3.13"
    fake.write_text("#!/bin/sh\necho False\n")
    fake.chmod(0o755)
    monkeypatch.setenv("DRIFTLINE_PYTHON313", str(fake))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "none"))
    with pytest.raises(LocalCloudError, match="Python 3.13 was not found"):
        localcloud.find_python313()


@pytest.mark.allow_hosts(["127.0.0.1"])
def test_port_taken_by_another_program_is_a_clear_error(tmp_path: Path) -> None:
    # Given another program listening on the local cloud's port
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        cloud = LocalCloud(port=port, state=tmp_path)
        # When the local cloud is started / Then it refuses, naming the port and the way out
        with pytest.raises(LocalCloudError, match=f"Port {port} .* in use.*DRIFTLINE_LOCAL_PORT"):
            cloud.start()


def test_stop_when_nothing_runs_is_a_no_op(tmp_path: Path) -> None:
    assert LocalCloud(state=tmp_path).stop() is False


@pytest.mark.filterwarnings("ignore:A test tried to use socket")
def test_the_network_is_off_in_unit_tests() -> None:
    # Given the unit suite's guard / When a test connects anywhere / Then it fails loudly
    from pytest_socket import SocketConnectBlockedError

    with socket.socket() as probe, pytest.raises(SocketConnectBlockedError):
        probe.connect(("127.0.0.1", 9))


def test_listening_elsewhere_is_an_explicit_opt_in(tmp_path: Path) -> None:
    # Given an explicit extra address
    cloud = LocalCloud(port=4599, state=tmp_path, extra_listen=("192.0.2.10",))
    # Then the gateway listens there as well as on loopback
    listen = cloud.environment()["DRIFTLINE_LISTEN"].split(",")
    assert "127.0.0.1" in listen
    assert "192.0.2.10" in listen


def test_a_wildcard_listener_stops_the_local_cloud(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given a local cloud whose process would listen on every interface
    cloud = LocalCloud(port=4599, state=tmp_path)
    monkeypatch.setattr(
        LocalCloud, "listening_addresses", lambda self, pid: {"127.0.0.1", "0.0.0.0"}
    )
    stopped: list[bool] = []

    def stop(self: LocalCloud, timeout: float = 30) -> bool:
        stopped.append(True)
        return True

    monkeypatch.setattr(LocalCloud, "stop", stop)
    # When the launcher checks it / Then it is stopped with a message naming the address
    with pytest.raises(LocalCloudError, match=r"listened on 0\.0\.0\.0.*was stopped"):
        cloud._refuse_unlisted_addresses(12345)
    assert stopped == [True]


def test_iam_enforcement_is_on_unless_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no setting, then an opt-out
    monkeypatch.delenv("DRIFTLINE_LOCAL_IAM", raising=False)
    default = LocalCloud(port=4599, state=tmp_path).environment()["AUTH"]
    monkeypatch.setenv("DRIFTLINE_LOCAL_IAM", "0")
    off = LocalCloud(port=4599, state=tmp_path).environment()["AUTH"]
    # Then the local cloud is started with checks on, and off only when asked
    assert (default, off) == ("true", "false")


def test_the_gateway_is_told_to_listen_on_loopback_only(tmp_path: Path) -> None:
    # Given a local cloud with default settings
    environment = LocalCloud(port=4599, state=tmp_path).environment()
    # Then its serve module is given loopback addresses only, and the port
    addresses = environment["DRIFTLINE_LISTEN"].split(",")
    assert "127.0.0.1" in addresses
    assert all(localcloud_network.is_loopback(a) for a in addresses), addresses
    assert environment["GATEWAY_PORT"] == "4599"
    # And nothing of MiniStack's own binding setting could widen it
    assert "BIND_HOST" not in environment


def test_ministack_enforces_iam_and_keeps_state_unless_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no settings in the environment
    for variable in (
        "DRIFTLINE_LOCAL_IAM",
        "DRIFTLINE_LOCAL_PERSISTENCE",
        "DRIFTLINE_LOCAL_STATE_DIR",
    ):
        monkeypatch.delenv(variable, raising=False)
    # Then MiniStack checks IAM (its AUTH) and keeps its state
    cloud = LocalCloud(port=4599, state=tmp_path)
    plain = cloud.environment()
    assert (plain["AUTH"], plain["PERSIST_STATE"], plain["S3_PERSIST"]) == ("true", "1", "1")
    # And its state lives in the local cloud's kept state, which no start clears
    assert Path(plain["STATE_DIR"]).is_relative_to(kept.folder(tmp_path))
    assert not any(
        Path(plain["STATE_DIR"]).is_relative_to(folder) for folder in cloud.base.fresh_state(cloud)
    )
    # When either is turned off
    off = LocalCloud(port=4599, state=tmp_path, iam=False, persistence=False).environment()
    # Then it is off, and the kept state is left alone for a start that keeps nothing
    assert (off["AUTH"], off["PERSIST_STATE"], off["S3_PERSIST"]) == ("false", "0", "0")
    assert not Path(off["STATE_DIR"]).is_relative_to(kept.folder(tmp_path))


def test_the_persistence_setting_is_read_when_the_local_cloud_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a local cloud made while persistence is on
    monkeypatch.delenv("DRIFTLINE_LOCAL_PERSISTENCE", raising=False)
    monkeypatch.delenv("DRIFTLINE_LOCAL_STATE_DIR", raising=False)
    cloud = LocalCloud(port=4599, state=tmp_path)
    assert cloud.environment()["PERSIST_STATE"] == "1"
    # When it is turned off afterwards (as the demo does in-process)
    monkeypatch.setenv("DRIFTLINE_LOCAL_PERSISTENCE", "0")
    # Then it keeps no state at its next start
    assert cloud.environment()["PERSIST_STATE"] == "0"


def test_ministack_names_services_its_own_way_and_serves_backup_for_the_templates(
    tmp_path: Path,
) -> None:
    cloud = LocalCloud(port=4599, state=tmp_path)
    services = cloud.environment()["SERVICES"].split(",")
    assert {"states", "monitoring", "backup"} <= set(services)
    assert not {"stepfunctions", "cloudwatch", "sagemaker", "sagemaker-runtime"} & set(services)
    # SageMaker is driftline's: it must answer on the health route before the cloud is ready
    assert "sagemaker" in cloud.base.health_services(cloud)


def test_a_setting_that_chose_localstack_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given the setting that chose LocalStack's core before it was dropped
    monkeypatch.setenv("DRIFTLINE_LOCAL_BASE", "localstack")
    # When a local cloud is made / Then the error says MiniStack is the one base, and what to do
    with pytest.raises(LocalCloudError, match="'localstack'.*MiniStack only.*Unset"):
        LocalCloud(state=tmp_path)


def test_the_local_cloud_stands_on_ministack(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no setting, and then the one that names MiniStack
    monkeypatch.delenv("DRIFTLINE_LOCAL_BASE", raising=False)
    cloud = LocalCloud(state=tmp_path)
    monkeypatch.setenv("DRIFTLINE_LOCAL_BASE", "ministack")
    # Then both are MiniStack, with its own files
    assert cloud.base.name == LocalCloud(state=tmp_path).base.name == "ministack"
    assert cloud.pid_file == tmp_path / "ministack.pid"
    assert cloud.venv_python == tmp_path / "ministack" / "venv" / "bin" / "python"


def test_ministack_unpacks_functions_under_the_local_cloud_folder(tmp_path: Path) -> None:
    # Given the MiniStack base (its function environments are folders under TMPDIR)
    cloud = LocalCloud(port=4599, state=tmp_path)
    tmp = Path(cloud.environment()["TMPDIR"])
    # Then TMPDIR exists (Python would silently fall back to /tmp) and is cleared at start
    assert tmp.is_dir() and tmp.is_relative_to(tmp_path)
    assert tmp in cloud.base.fresh_state(cloud)


def test_installing_removes_what_the_localstack_base_left(tmp_path: Path) -> None:
    # Given a local cloud folder the LocalStack base used: its environment, runtime
    # packages, files and logs, beside MiniStack's folder and the kept state
    for folder in ("venv/bin", "lambda-runtime/boto3", "filesystem/s3", "ministack", "state"):
        (tmp_path / folder).mkdir(parents=True)
    for name in ("localstack.log", "localstack.pid", "state/kept.json"):
        (tmp_path / name).write_text("x")
    said: list[str] = []
    # When an install (`local up`, `local install`) looks there
    localcloud_base.retire_localstack(tmp_path, said.append)
    # Then the LocalStack base's things are gone, with a word, and the rest is left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ministack", "state"]
    assert (tmp_path / "state" / "kept.json").is_file()
    assert said == ["removing the former LocalStack base's environment and files"]
    # And a second install has nothing to say
    said.clear()
    localcloud_base.retire_localstack(tmp_path, said.append)
    assert said == []
