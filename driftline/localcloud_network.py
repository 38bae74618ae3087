"""The local cloud's network side: the loopback addresses it listens on by default, the
machine's addresses a test checks it does not answer on, and what its processes listen on.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil


def loopback_addresses() -> tuple[str, ...]:
    """The addresses the local cloud listens on by default: IPv4 and IPv6 loopback.

    ``::1`` only where the machine has IPv6 loopback (some containers do not).
    """
    addresses = ["127.0.0.1"]
    if socket.has_ipv6:
        try:
            with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
                probe.bind(("::1", 0))
            addresses.append("::1")
        except OSError:
            pass
    return tuple(addresses)


def is_loopback(address: str) -> bool:
    return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback


def machine_addresses() -> list[str]:
    """Every address of this machine's network interfaces (link-local ones with their
    interface, as ``fe80::1%eth0``), loopback included."""
    found: list[str] = []
    for interface, entries in psutil.net_if_addrs().items():
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = entry.address
            if "%" not in address and ipaddress.ip_address(address).is_link_local:
                address = f"{address}%{interface}"
            found.append(address)
    return found


def host_port(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def listening_addresses(pid: int) -> set[str]:
    """The addresses on which the process tree under ``pid`` accepts connections."""
    addresses: set[str] = set()
    try:
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            for connection in process.net_connections(kind="inet"):
                if connection.status == psutil.CONN_LISTEN and connection.laddr:
                    addresses.add(connection.laddr.ip)
    except psutil.NoSuchProcess:
        pass
    return addresses
