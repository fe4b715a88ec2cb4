"""HTTP health checks of the plan: one probe, with the CA bundle the app trusts.

Every connection a probe opens — the first request's and each redirect's (at most 5) — refuses a
host that vmdr.targets forbids by name or literal address before any lookup, resolves the host
itself, refuses it if any of its addresses is forbidden, and connects to a checked address only
(no second lookup that a DNS answer could change in between); TLS still verifies the certificate
against the host name. Environment proxies are ignored: a proxy would hide the address probed.
"""

from __future__ import annotations

import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

from vmdr import targets
from vmdr.azure import AzureClients

PROBE_TIMEOUT = 10.0  # seconds per request; the plan's timeout_seconds bounds the retries
MAX_REDIRECTS = 5


class RefusedTarget(Exception):
    """The probe would reach an address a health check must not (not an OSError: urllib3 must
    not retry or wrap it)."""


class _CheckedConnection:
    allow_loopback = False

    def _new_conn(self) -> socket.socket:  # urllib3.connection.HTTPConnection._new_conn
        problem = targets.host_problem(self.host, self.allow_loopback)  # before any lookup
        if problem:
            raise RefusedTarget(problem)
        try:
            found = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        for *_, address in found:
            problem = targets.address_problem(address[0], self.allow_loopback)
            if problem:
                raise RefusedTarget(f"{self.host} resolves to {problem}")
        error: OSError | None = None
        for *_, address in found:
            try:
                return connection.create_connection(
                    (address[0], self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out (timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


def checked_session(allow_loopback: bool) -> requests.Session:
    """A requests session whose every connection checks its target (vmdr.targets); webhooks
    (vmdr/ops/webhook.py) use it too."""
    class Http(_CheckedConnection, HTTPConnection):
        pass

    class Https(_CheckedConnection, HTTPSConnection):
        pass

    Http.allow_loopback = Https.allow_loopback = allow_loopback

    class HttpPool(HTTPConnectionPool):
        ConnectionCls = Http

    class HttpsPool(HTTPSConnectionPool):
        ConnectionCls = Https

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = {"http": HttpPool, "https": HttpsPool}

    session = requests.Session()
    session.trust_env = False
    session.max_redirects = MAX_REDIRECTS
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session


def probe(clients: AzureClients, url: str, expect_status: int,
          allow_loopback: bool = False) -> dict:
    verify = clients.settings.ca_bundle or True
    problem = targets.host_problem(requests.utils.urlparse(url).hostname or "", allow_loopback)
    if problem:  # a plan stored before the rule: refused here too
        return {"ok": False, "status": None, "error": f"refused: {problem}"}
    with checked_session(allow_loopback) as session:
        try:
            response = session.get(url, timeout=PROBE_TIMEOUT, verify=verify)
        except RefusedTarget as exc:
            return {"ok": False, "status": None, "error": f"refused: {exc}"}
        except requests.RequestException as exc:
            return {"ok": False, "status": None, "error": str(exc).splitlines()[0][:300]}
    return {
        "ok": response.status_code == expect_status,
        "status": response.status_code,
        "error": None if response.status_code == expect_status else response.text[:300],
    }
