"""The local cloud launcher's checks that need no running LocalStack."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from driftline import localcloud, localcloud_network
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


def test_the_gateway_is_told_to_listen_on_loopback_only(tmp_path: Path) -> None:
    # Given a local cloud with default settings
    listen = LocalCloud(port=4599, state=tmp_path).environment()["GATEWAY_LISTEN"]
    # Then every address the gateway is given is a loopback address
    addresses = [entry.rsplit(":", 1)[0].strip("[]") for entry in listen.split(",")]
    assert "127.0.0.1" in addresses
    assert all(localcloud_network.is_loopback(a) for a in addresses), listen


def test_listening_elsewhere_is_an_explicit_opt_in(tmp_path: Path) -> None:
    # Given an explicit extra address
    cloud = LocalCloud(port=4599, state=tmp_path, extra_listen=("192.0.2.10",))
    # Then the gateway listens there as well as on loopback, and IPv6 is bracketed
    listen = cloud.environment()["GATEWAY_LISTEN"].split(",")
    assert "127.0.0.1:4599" in listen
    assert "192.0.2.10:4599" in listen
    assert all(e.startswith("[") for e in listen if e.count(":") > 1)


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
    default = LocalCloud(port=4599, state=tmp_path).environment()["DRIFTLINE_LOCAL_IAM"]
    monkeypatch.setenv("DRIFTLINE_LOCAL_IAM", "0")
    off = LocalCloud(port=4599, state=tmp_path).environment()["DRIFTLINE_LOCAL_IAM"]
    # Then the local cloud is started with checks on, and off only when asked
    assert (default, off) == ("1", "0")
