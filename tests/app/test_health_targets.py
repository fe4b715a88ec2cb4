"""Health checks cannot be aimed at the app's own host or the platform's services: refused at
plan validation for literal addresses and known names, and at probe time after DNS resolution
and after every redirect (issue 10, item 8). The servers here are real HTTP servers on
127.0.0.1; only the name lookups of invented host names are answered by the test."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import unquote

import pytest
import trustme

from vmdr.ops import health

NO_CA = SimpleNamespace(settings=SimpleNamespace(ca_bundle=None))


class App:
    """An HTTP server counting requests; /redirect?to=URL answers 302 to URL, /loop to itself.
    With `tls` (a trustme CA) it serves HTTPS for `app.contoso.example` and counts every TCP
    connection it accepts, before any handshake."""

    def __init__(self, tls: trustme.CA | None = None):
        self.paths: list[str] = []
        self.connections = 0
        self.scheme = "https" if tls else "http"
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                app.paths.append(unquote(self.path))
                if self.path == "/loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.end_headers()
                    return
                if self.path.startswith("/redirect?to="):
                    self.send_response(302)
                    self.send_header("Location", unquote(self.path.split("=", 1)[1]))
                    self.end_headers()
                    return
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"healthy")

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def verify_request(self, request, client_address):
                app.connections += 1
                return True

            def finish_request(self, request, client_address):
                if tls is not None:
                    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                    tls.issue_cert("app.contoso.example").configure_cert(context)
                    request = context.wrap_socket(request, server_side=True)
                super().finish_request(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/health", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def app() -> Iterator[App]:
    server = App()
    yield server
    server.stop()


@pytest.fixture
def dns(monkeypatch) -> dict[str, list[str]]:
    """Answers for invented names; every other lookup goes to the real resolver."""
    answers: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                     (ip, port)) for ip in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def probe(url: str, allow_loopback: bool = False) -> dict:
    return health.probe(NO_CA, url, 200, allow_loopback)


def test_loopback_is_probed_only_when_the_check_allows_it(app):
    for url in (app.url(), app.url(host="localhost"), app.url(host="[::ffff:127.0.0.1]")):
        refused = probe(url)
        assert refused["ok"] is False and refused["error"].startswith("refused: "), refused
        assert "allow_loopback: true" in refused["error"]
    assert app.paths == []  # not one request reached it
    assert probe(app.url(), allow_loopback=True) == {"ok": True, "status": 200, "error": None}
    assert app.paths == ["/health"]


def test_a_name_is_judged_by_every_address_it_resolves_to(app, dns):
    dns["imds.contoso.example"] = ["169.254.169.254"]
    dns["mixed.contoso.example"] = ["10.1.0.4", "127.0.0.1"]
    dns["app.contoso.example"] = ["127.0.0.1"]
    imds = probe(app.url(host="imds.contoso.example"), allow_loopback=True)
    assert "resolves to 169.254.169.254 is the instance metadata service" in imds["error"]
    mixed = probe(app.url(host="mixed.contoso.example"))
    assert "resolves to 127.0.0.1 is a loopback address" in mixed["error"]
    assert app.paths == []
    # Allowed, it connects to the address that was checked (and sends the name as Host).
    assert probe(app.url(host="app.contoso.example"), allow_loopback=True)["ok"] is True
    assert app.paths == ["/health"]


@pytest.mark.parametrize("target, expected", [
    ("http://169.254.169.254/metadata/identity/oauth2/token", "instance metadata service"),
    ("http://168.63.129.16/machine", "WireServer"),
    ("http://0.0.0.0:{port}/health", "unspecified address"),  # would reach this very server
    ("http://[fe80::1]/", "link-local"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata service"),
])
def test_every_redirect_is_checked_before_it_is_followed(app, target, expected):
    location = target.format(port=app.port)
    result = probe(app.url(f"/redirect?to={location}"), allow_loopback=True)
    assert result["ok"] is False and result["status"] is None
    assert result["error"].startswith("refused: ") and expected in result["error"], result
    assert app.paths == [f"/redirect?to={location}"]  # the first hop only


def test_a_redirect_to_an_allowed_target_is_followed(app):
    result = probe(app.url(f"/redirect?to={app.url('/health')}"), allow_loopback=True)
    assert result == {"ok": True, "status": 200, "error": None}
    assert app.paths[-1] == "/health"
    loop = probe(app.url("/loop"), allow_loopback=True)
    assert loop["ok"] is False and "Exceeded 5 redirects" in loop["error"]
    assert app.paths.count("/loop") == 6


@pytest.fixture
def tls_app(tmp_path) -> Iterator[tuple[App, SimpleNamespace]]:
    """An HTTPS server for app.contoso.example, and app clients trusting its CA."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = App(tls=ca)
    yield server, SimpleNamespace(settings=SimpleNamespace(ca_bundle=str(bundle)))
    server.stop()


@pytest.mark.parametrize("forbidden, allow_loopback, expected", [
    ("127.0.0.1", False, "resolves to 127.0.0.1 is a loopback address"),
    ("169.254.10.1", True, "resolves to 169.254.10.1 is a link-local address"),
    ("169.254.169.254", True, "resolves to 169.254.169.254 is the instance metadata service"),
    ("168.63.129.16", True, "resolves to 168.63.129.16 is Azure's WireServer"),
])
def test_an_https_check_is_judged_by_its_addresses_before_any_connection(
        tls_app, dns, forbidden, allow_loopback, expected):
    """https goes through the same check as http: a name resolving to a forbidden address is
    refused before a connection is opened. The name also resolves to this server (first), so
    a probe that skipped the check would reach it."""
    app, clients = tls_app
    dns["app.contoso.example"] = list(dict.fromkeys(["127.0.0.1", forbidden]))
    url = app.url(host="app.contoso.example")
    result = health.probe(clients, url, 200, allow_loopback)
    assert result["ok"] is False and result["status"] is None
    assert result["error"].startswith("refused: ") and expected in result["error"], result
    assert app.connections == 0 and app.paths == []
    # Once every address is allowed, the same https check reaches the server (TLS verified).
    dns["app.contoso.example"] = ["127.0.0.1"]
    assert health.probe(clients, url, 200, True) == {"ok": True, "status": 200, "error": None}
    assert app.connections == 1 and app.paths == ["/health"]


def test_an_https_redirect_is_checked_before_it_is_followed(tls_app, dns):
    app, clients = tls_app
    dns["app.contoso.example"] = ["127.0.0.1"]
    dns["imds.contoso.example"] = ["169.254.169.254"]
    hop = app.url("/redirect?to=https://imds.contoso.example/metadata", host="app.contoso.example")
    result = health.probe(clients, hop, 200, True)
    assert result["error"] == "refused: imds.contoso.example resolves to 169.254.169.254 is " \
        "the instance metadata service (IMDS); vmdr never calls it", result
    assert app.paths == ["/redirect?to=https://imds.contoso.example/metadata"]
