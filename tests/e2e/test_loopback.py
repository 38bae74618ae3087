"""The local cloud is reachable from this machine only.

MiniStack would listen on every interface; the launcher binds it to loopback
and checks what its processes listen on. Anyone who could reach the port could create a
function and run code as the user.
"""

from __future__ import annotations

import socket

import pytest

from driftline.localcloud import LocalCloud
from driftline.localcloud_network import is_loopback, machine_addresses

pytestmark = pytest.mark.e2e


def _connect(address: str, port: int) -> bool:
    family, kind, proto, _, sockaddr = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM)[0]
    with socket.socket(family, kind, proto) as probe:
        probe.settimeout(2)
        try:
            probe.connect(sockaddr)
        except OSError:
            return False
        return True


def test_the_gateway_refuses_every_non_loopback_address(local_cloud: LocalCloud) -> None:
    # Given the running local cloud and every address of this machine's interfaces
    addresses = machine_addresses()
    outside = [a for a in addresses if not is_loopback(a)]
    # Then it answers on loopback
    assert _connect("127.0.0.1", local_cloud.port)
    # And every other address of the machine refuses the connection
    reachable = [a for a in outside if _connect(a, local_cloud.port)]
    assert reachable == [], f"the local cloud answered on {reachable}"


def test_nothing_it_runs_listens_beyond_loopback(local_cloud: LocalCloud) -> None:
    # Given the local cloud's processes (the gateway and any function processes)
    pid = int(local_cloud.pid_file.read_text())
    # Then every listening socket is on a loopback address
    listening = local_cloud.listening_addresses(pid)
    assert listening, "found no listening socket at all"
    assert all(is_loopback(a) for a in listening), listening
