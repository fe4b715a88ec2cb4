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
import threading
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import azure.functions as func

from devhost.loader import FunctionSpec


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

    def __init__(self, original: BaseException) -> None:
        self.original = original
        self.message = worker_exception_message(original)
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


class WorkerRuntime:
    """The worker side: an event loop thread for async functions, a thread pool for sync ones."""

    def __init__(self, app_dir: str, sync_threads: int) -> None:
        self._app_dir = app_dir
        self._pool = ThreadPoolExecutor(max_workers=sync_threads, thread_name_prefix="worker")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="worker-loop", daemon=True
        )
        self._thread.start()

    async def invoke(
        self,
        spec: FunctionSpec,
        trigger_value: Any,
        *,
        client_json: str | None = None,
        pool: ThreadPoolExecutor | None = None,
    ) -> Any:
        """Run the function; raise FunctionFailure when it raises."""
        call = self._bind(spec, trigger_value, client_json)
        try:
            if spec.is_async:
                future = asyncio.run_coroutine_threadsafe(call(), self._loop)
                return await asyncio.wrap_future(future)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(pool or self._pool, call)
        except Exception as exc:
            raise FunctionFailure(exc) from exc

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
