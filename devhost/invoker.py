"""Invoke user functions the way the Python worker does.

azure-functions-python-worker `dispatcher._handle__invocation_request`: arguments are passed by
binding name (a `context` parameter that is no binding gets a `func.Context`), `async def`
functions run on the worker's event loop, plain `def` functions in its thread pool, and a failure is
reported to the host as an RpcException whose message is `f"{type(exc).__name__}: {exc}"`.

The real worker is another process than the host, so a user function that blocks its event loop
cannot stall the host. devhost keeps that separation inside one process: user `async def` functions
run on a dedicated "worker" event loop thread, never on the loop that serves HTTP and drives
orchestrations.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import azure.functions as func

from devhost.loader import FunctionSpec
from vmdr.clock import VirtualClock


class InvocationContext(func.Context):
    """A concrete `func.Context` (the worker's own class is not part of azure-functions)."""

    def __init__(self, function_name: str, function_directory: str) -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory
        self._thread_local_storage = threading.local()
        self._thread_local_storage.invocation_id = self._invocation_id

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._thread_local_storage

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> Any:
        return None

    @property
    def retry_context(self) -> Any:
        return None


class FunctionFailure(Exception):
    """A user function raised: carries what the worker would send back to the host."""

    def __init__(self, original: BaseException, message: str | None = None) -> None:
        self.original = original
        self.message = message or worker_exception_message(original)
        # utils.tracing.marshall_exception_trace: the frames, without the exception text.
        self.stack = "".join(traceback.format_tb(original.__traceback__))
        super().__init__(self.message)

    @property
    def rpc_message(self) -> str:
        """Functions host RpcException.Message: "Result: Failure\\nException: ...\\nStack: ..."."""
        return f"Result: Failure\nException: {self.message}\nStack: {self.stack}"


def worker_exception_message(exc: BaseException) -> str:
    """dispatcher._serialize_exception."""
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:
        return "Unhandled exception in function. Could not serialize original exception message."


class FunctionTimeout(Exception):
    """The host's FunctionTimeoutException: the invocation outlived host.json functionTimeout."""


class WorkerRuntime:
    """The worker side: an event loop thread for async functions, a thread pool for sync ones.

    Every invocation holds the shared virtual clock's `busy()` (local work costs real time) and is
    bounded by host.json `functionTimeout`, measured on the virtual clock as the host measures it
    on its own: past it the invocation fails with the host's message (azure-webjobs-sdk
    FunctionExecutor: "Timeout value of {0} was exceeded by function: {1}"). The real host then
    restarts the worker process; devhost cannot stop a Python thread, so the abandoned call runs on
    in the background and its result is dropped.
    """

    def __init__(
        self,
        app_dir: str,
        sync_threads: int,
        clock: VirtualClock | None = None,
        function_timeout: timedelta | None = None,
    ) -> None:
        self._app_dir = app_dir
        self._pool = ThreadPoolExecutor(max_workers=sync_threads, thread_name_prefix="worker")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="worker-loop", daemon=True
        )
        self._thread.start()
        self.clock = clock
        self.function_timeout = function_timeout
        self.timeouts = 0

    async def invoke(
        self,
        spec: FunctionSpec,
        trigger_value: Any,
        *,
        client_json: str | None = None,
        pool: ThreadPoolExecutor | None = None,
    ) -> Any:
        """Run the function; raise FunctionFailure when it raises or times out."""
        call = self._bind(spec, trigger_value, client_json)
        busy = self.clock.busy() if self.clock is not None else contextlib.nullcontext()
        with busy:
            try:
                if spec.is_async:
                    future = asyncio.wrap_future(
                        asyncio.run_coroutine_threadsafe(call(), self._loop))
                else:
                    future = asyncio.get_running_loop().run_in_executor(pool or self._pool, call)
                return await self._within_timeout(spec, future)
            except FunctionTimeout as exc:
                self.timeouts += 1
                raise FunctionFailure(exc, message=str(exc)) from exc
            except Exception as exc:
                raise FunctionFailure(exc) from exc

    async def _within_timeout(self, spec: FunctionSpec, future: asyncio.Future) -> Any:
        if self.function_timeout is None or self.clock is None:
            return await future
        deadline = self.clock.now() + self.function_timeout
        while True:
            # The soonest the virtual clock can reach the deadline; check again on waking.
            wait = max(self.clock.real_seconds_until(deadline), 0.005)
            done, _ = await asyncio.wait({future}, timeout=wait)
            if done:
                return future.result()
            if self.clock.now() >= deadline:
                raise FunctionTimeout(
                    f"Timeout value of {_timespan(self.function_timeout)} was exceeded by "
                    f"function: Functions.{spec.name}")


    def _bind(
        self, spec: FunctionSpec, trigger_value: Any, client_json: str | None
    ) -> Callable[[], Any]:
        kwargs: dict[str, Any] = {}
        args: list[Any] = []
        if spec.trigger_param in spec.parameters:
            kwargs[spec.trigger_param] = trigger_value
        else:
            # e.g. the Durable SDK's orchestrator `handle(context)` bound under another name
            args.append(trigger_value)
        if spec.client_param:
            kwargs[spec.client_param] = client_json
        if spec.wants_context:
            kwargs["context"] = InvocationContext(spec.name, self._app_dir)
        function = spec.func
        return lambda: function(*args, **kwargs)

    def close(self) -> None:
        try:
            # The Durable SDK keeps one aiohttp session per process for its client calls.
            from azure.durable_functions.models.utils import http_utils

            asyncio.run_coroutine_threadsafe(http_utils._close_session(), self._loop).result(2)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)


def _timespan(delta: timedelta) -> str:
    """A .NET TimeSpan's default text: [d.]hh:mm:ss."""
    seconds = int(delta.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{days}.{text}" if days else text
