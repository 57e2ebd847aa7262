"""Docker engine addresses, spelt one way so that one engine counts once."""

from __future__ import annotations

import os

# The socket an empty unix address (`unix://`) names, as docker and the SDK read it.
DEFAULT_UNIX_SOCKET = "/var/run/docker.sock"


def engine_key(address: str) -> str:
    """Return what tells engines apart, however their address is spelt.

    The scheme's letter case does not matter; a unix socket is its real path
    (doubled slashes, links and '..' resolved), and `unix://` with no path is
    the default socket, as docker reads it; tcp, http and https are
    host:port in lower case, the port the SDK would take filled in; ssh is
    [user@]host:port with the host in lower case and port 22 filled in.
    """
    scheme, sep, rest = address.partition("://")
    if not sep:
        return address
    scheme = scheme.lower()
    if scheme == "unix":
        path = rest or DEFAULT_UNIX_SOCKET
        return "unix://" + os.path.realpath("/" + path.lstrip("/"))
    if scheme in ("tcp", "http", "https", "ssh"):
        import docker  # only for tcp and ssh: comparing records stays light

        try:
            parsed = docker.utils.parse_host(f"{scheme}://{rest}")
        except (ValueError, docker.errors.DockerException):  # refused at connect
            return f"{scheme}://{rest}"
        kind, _, where = parsed.partition("://")
        user, at, hostport = where.rstrip("/").rpartition("@")
        return f"{kind}://{user}{at}{hostport.lower()}"
    return f"{scheme}://{rest}"
