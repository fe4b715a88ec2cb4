"""Run a Simulator's aiohttp app over HTTPS on 127.0.0.1 in a background thread."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from aiohttp import web

from armsim.server import Simulator, make_app, make_certificates


class ServerThread:
    """Starts the HTTPS listener in its own thread and event loop; `stop()` ends it cleanly."""

    def __init__(self, sim: Simulator, cert_dir: Path, port: int = 0,
                 host: str = "127.0.0.1") -> None:
        self.sim = sim
        self.host = host
        self.requested_port = port
        self.certificates = make_certificates(cert_dir)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="armsim-server", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"https://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("armsim did not start listening in time")
        if self._error is not None:
            raise RuntimeError(f"armsim could not start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        loop.run_forever()
        loop.run_until_complete(self._cleanup())
        loop.close()

    async def _serve(self) -> None:
        self._runner = web.AppRunner(make_app(self.sim), access_log=None,
                                     handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port,
                           ssl_context=self.certificates.server_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.sim.base_url = self.endpoint
        self._ready.set()

    async def _cleanup(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=15)
