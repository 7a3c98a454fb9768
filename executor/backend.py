"""Where the work of `gen`, `verify`, `collect`, `eval` and `shard` runs: threads of this process
(`local`) or Ray tasks on a cluster (`ray`).

A backend runs `Call`s -- a module-level function, its arguments and the CPU and memory the call
needs -- and streams them back in completion order:

    with backend.run(calls, on_abort=close_all) as stream:
        for done in stream:          # Done(call, value, error)
            ...                      # the driver writes results; stream.stop() drains

Both backends keep a bounded number of calls in flight (back-pressure: the driver reads its
input lazily and holds at most that many results), and both deliver a call's exception as
`Done.error` instead of raising it, so the caller decides whether one failure ends the run.

The Ray backend asks Ray for each call's CPUs and memory (a sandbox's limits), lets Ray re-run a
call whose worker process or node died (`max_retries`), and reports a call lost more often than
that as a `CallLostError`. `ray` is imported only when this backend is opened.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from termforge.errors import ConfigError, TermforgeError

BACKENDS = ("local", "ray")
BACKEND_HELP = "Where trials run: local (threads, --jobs at a time) or ray (tasks on a Ray cluster)."
RAY_ADDRESS_HELP = ("Ray cluster to use with --backend ray: HOST:PORT of its head, ray://HOST:PORT, or auto "
                    "(a cluster started on this machine); default RAY_ADDRESS, else a private local instance.")
RAY_RETRIES = 3          # re-runs of a call whose worker process or node died
WAIT_POLL_SEC = 1.0      # how often a waiting driver wakes up (Ctrl-C stays responsive)
CANCEL_GRACE_SEC = 30.0  # how long an interrupted driver waits for its cancelled Ray tasks


@dataclass(frozen=True)
class Call:
    """One unit of work: `fn(*args)` needing `cpus` CPUs and `memory_mb` MB; `tag` is the caller's."""

    fn: Callable[..., Any]
    args: tuple = ()
    tag: Any = None
    name: str = "call"
    cpus: float = 1.0
    memory_mb: int = 0


class Done(NamedTuple):
    call: Call
    value: Any
    error: BaseException | None


class CallLostError(TermforgeError):
    """Ray lost the call's worker (process or node) more often than it may retry."""


# ----------------------------------------------------------------------------- local


class _Stream:
    """Common shape of a backend's stream: a context manager that iterates `Done`s."""

    def __init__(self, calls: Iterable[Call], window: int, on_abort: Callable[[], None] | None):
        self._calls = iter(calls)
        self._window = max(1, window)
        self._on_abort = on_abort
        self._stopped = False
        self._exhausted = False

    def stop(self) -> None:
        """Start no further call; the ones in flight still finish and are delivered."""
        self._stopped = True

    def _next_call(self) -> Call | None:
        if self._stopped or self._exhausted:
            return None
        call = next(self._calls, None)
        if call is None:
            self._exhausted = True
        return call

    def __enter__(self) -> "_Stream":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(aborted=exc_type is not None)

    def close(self, *, aborted: bool) -> None:
        raise NotImplementedError


class _LocalStream(_Stream):
    def __init__(self, calls, window, on_abort):
        super().__init__(calls, window, on_abort)
        self._pool = ThreadPoolExecutor(max_workers=self._window, thread_name_prefix="backend")
        self._pending: dict[Future, Call] = {}

    def _fill(self) -> None:
        while len(self._pending) < self._window and (call := self._next_call()) is not None:
            self._pending[self._pool.submit(call.fn, *call.args)] = call

    def __iter__(self) -> Iterator[Done]:
        self._fill()
        while self._pending:
            finished, _ = wait(self._pending, timeout=WAIT_POLL_SEC, return_when=FIRST_COMPLETED)
            for fut in finished:
                call = self._pending.pop(fut)
                exc = fut.exception()
                self._fill()  # keep the slots busy while the caller handles this result
                yield Done(call, None if exc else fut.result(), exc)

    def close(self, *, aborted: bool) -> None:
        if aborted:
            for fut in self._pending:
                fut.cancel()
            if self._on_abort:
                self._on_abort()
        self._pool.shutdown(wait=True, cancel_futures=True)


class LocalBackend:
    """Threads of this process, `jobs` calls at a time; files are shared with the driver."""

    name = "local"
    ships_files = False  # calls see the driver's file system

    def __init__(self, jobs: int = 1):
        self.slots = max(1, int(jobs))

    def run(self, calls: Iterable[Call], *, on_abort: Callable[[], None] | None = None) -> _LocalStream:
        return _LocalStream(calls, self.slots, on_abort)

    def describe(self) -> str:
        return f"local, {self.slots} at a time"

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ----------------------------------------------------------------------------- Ray


def _import_ray():
    try:
        import ray
    except ImportError:
        raise ConfigError("--backend ray needs the ray package: pip install 'ray>=2.60'") from None
    return ray


def check_ray_address(address: str, *, timeout: float = 5.0) -> None:
    """One clear error, within `timeout`, when nothing listens at a HOST:PORT address
    (ray.init itself retries for minutes)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--ray-address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise TermforgeError(f"cannot reach the Ray cluster at {address} ({reason}); start one with "
                             "`ray start --head` or fix --ray-address") from None


@contextlib.contextmanager
def _keep_sigterm_handler():
    """ray.init replaces the SIGTERM handler (with sys.exit); keep the caller's (the CLI turns
    SIGTERM into Ctrl-C, which cancels the trials in flight and removes their sandboxes)."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        yield
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)


class _RayStream(_Stream):
    def __init__(self, backend: "RayBackend", calls, on_abort):
        super().__init__(calls, backend.slots, on_abort)
        self._backend = backend
        self._pending: dict[Any, Call] = {}  # ObjectRef -> call

    def _fill(self) -> None:
        while len(self._pending) < self._window and (call := self._next_call()) is not None:
            self._pending[self._backend._submit(call)] = call

    def __iter__(self) -> Iterator[Done]:
        ray = self._backend.ray
        self._fill()
        while self._pending:
            ready, _ = ray.wait(list(self._pending), num_returns=1, timeout=WAIT_POLL_SEC)
            for ref in ready:
                call = self._pending.pop(ref)
                value, error = self._backend._get(ref, call)
                self._fill()
                yield Done(call, value, error)

    def close(self, *, aborted: bool) -> None:
        if aborted and self._pending:
            ray = self._backend.ray
            refs = list(self._pending)
            for ref in refs:  # a KeyboardInterrupt in each task: its sandbox is removed
                try:
                    ray.cancel(ref)
                except Exception:  # noqa: BLE001 - already finished or its node is gone
                    pass
            # let them clean up: a driver that leaves at once has Ray kill its workers mid-way
            ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_SEC)
        if aborted and self._on_abort:
            self._on_abort()
        self._pending.clear()


class RayBackend:
    """Ray tasks on a cluster: each call asks for its CPUs and memory, runs on any node with room,
    and is re-run by Ray when its worker process or node dies.

    `address` None starts a private local Ray instance (`num_cpus` CPUs); a process already
    connected to Ray (ray.init done by the caller) keeps its connection. At most `max_in_flight`
    calls are submitted at once (default: twice the cluster's CPUs).
    """

    name = "ray"
    ships_files = True  # a call may run on another machine: inputs and outputs travel as bytes

    def __init__(self, address: str | None = None, *, max_in_flight: int | None = None,
                 retries: int = RAY_RETRIES, num_cpus: int | None = None):
        self.ray = ray = _import_ray()
        self.retries = retries
        self._owns = not ray.is_initialized()
        if self._owns:
            address = address or os.environ.get("RAY_ADDRESS") or None
            if address:
                check_ray_address(address)
            kwargs: dict[str, Any] = {"logging_level": "ERROR", "log_to_driver": False}
            if address is None:
                kwargs.update(address="local", num_cpus=num_cpus or os.cpu_count() or 1,
                              include_dashboard=False)
            else:
                kwargs["address"] = address
            try:
                with _keep_sigterm_handler():
                    ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:  # e.g. another Ray version
                lines = str(exc).strip().splitlines() or [type(exc).__name__]
                raise TermforgeError(f"cannot connect to the Ray cluster at {address}: {lines[0]}") from None
        self.address = (address or "local") if self._owns else ray.get_runtime_context().gcs_address
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        cpus = [float(n["Resources"].get("CPU", 0)) for n in nodes]
        mems = [float(n["Resources"].get("memory", 0)) for n in nodes]
        if not cpus or max(cpus) <= 0:
            self.close()
            raise TermforgeError(f"the Ray cluster at {self.address} has no node with CPUs to run tasks on")
        self.nodes = len([c for c in cpus if c > 0])
        self.cpus = sum(cpus)
        self._max_cpus, self._max_memory = max(cpus), max(mems)
        self.slots = max(1, int(max_in_flight or 2 * self.cpus))
        self._remote: dict[Callable, Any] = {}

    def run(self, calls: Iterable[Call], *, on_abort: Callable[[], None] | None = None) -> _RayStream:
        return _RayStream(self, calls, on_abort)

    def describe(self) -> str:
        return f"ray at {self.address}, {self.nodes} node(s), {self.cpus:g} CPUs"

    def resources(self, call: Call) -> dict[str, float]:
        """The call's request, clipped to the largest node so that no call waits forever (the
        sandbox still enforces its own limits)."""
        res = {"num_cpus": min(max(call.cpus, 0.0), self._max_cpus)}
        if call.memory_mb > 0 and self._max_memory > 0:
            res["memory"] = min(call.memory_mb * 2**20, self._max_memory)
        return res

    def _submit(self, call: Call):
        remote = self._remote.get(call.fn)
        if remote is None:
            remote = self._remote[call.fn] = self.ray.remote(call.fn)
        return remote.options(name=call.name[:120], max_retries=self.retries, retry_exceptions=False,
                              **self.resources(call)).remote(*call.args)

    def _get(self, ref, call: Call) -> tuple[Any, BaseException | None]:
        ex = self.ray.exceptions
        try:
            return self.ray.get(ref), None
        except ex.RayTaskError as exc:  # the function raised: hand over its own exception
            cause = getattr(exc, "cause", None)
            return None, cause if isinstance(cause, Exception) else TermforgeError(str(exc).splitlines()[0])
        except (ex.WorkerCrashedError, ex.NodeDiedError, ex.ObjectLostError, ex.OwnerDiedError,
                ex.OutOfMemoryError, ex.LocalRayletDiedError, ex.TaskUnschedulableError) as exc:
            kind = type(exc).__name__
            return None, CallLostError(f"{call.name}: lost on the Ray cluster {self.retries + 1} times "
                                       f"(last: {kind}); its worker process or node died")

    def close(self) -> None:
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
            self._owns = False

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


Backend = LocalBackend | RayBackend


def open_backend(name: str, *, jobs: int = 1, ray_address: str | None = None) -> Backend:
    """The backend a command's --backend/--jobs/--ray-address ask for (one clear error otherwise)."""
    if name == "local":
        if ray_address:
            raise ConfigError("--ray-address needs --backend ray")
        return LocalBackend(jobs)
    if name == "ray":
        return RayBackend(ray_address)
    raise ConfigError(f"unknown --backend {name!r}; choose {' or '.join(BACKENDS)}")
