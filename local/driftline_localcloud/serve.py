"""Starts LocalStack's runtime with its gateway bound to the addresses it was given.

LocalStack's Twisted gateway ignores the host part of ``GATEWAY_LISTEN`` for IPv4 and
listens on every interface (``0.0.0.0``): anyone who can reach the port could create a
function and run code as the user. The launcher runs ``python -m
driftline_localcloud.serve`` instead of ``localstack.runtime.main``; this module binds
each ``GATEWAY_LISTEN`` entry to its own interface and then hands over to LocalStack.
The launcher also checks the bound addresses after start-up (``driftline.localcloud``),
so a future change in LocalStack that binds more cannot pass unnoticed.
"""

from __future__ import annotations

from typing import Any


def bind_to_listed_interfaces() -> None:
    from localstack import config
    from localstack.aws.serving.twisted import TLSMultiplexerFactory
    from localstack.runtime.server import twisted as twisted_server
    from rolo.serving.twisted import TwistedGateway
    from twisted.internet import endpoints, reactor, ssl

    def register(
        self: Any,
        gateway: Any,
        listen: list[Any],
        ssl_creds: tuple[str, str] | None = None,
    ) -> None:
        site = TwistedGateway(gateway)
        protocol_factory: Any = site
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)
        for host_and_port in listen:
            endpoint_type = (
                endpoints.TCP6ServerEndpoint
                if config.is_ipv6_address(host_and_port.host)
                else endpoints.TCP4ServerEndpoint
            )
            endpoint = endpoint_type(reactor, host_and_port.port, interface=host_and_port.host)
            endpoint.listen(protocol_factory)

    twisted_server.TwistedRuntimeServer.register = register


def main() -> None:
    bind_to_listed_interfaces()
    from localstack.runtime.main import main as localstack_main

    localstack_main()


if __name__ == "__main__":
    main()
