"""One hardened Docker container for one trial.

    with Sandbox(image, limits, name="trial-x") as sb:
        sb.put_dir(task.solution_dir, "/solution")
        r = sb.exec(["bash", "/solution/solve.sh"], timeout=60)
        term = sb.terminal()           # persistent tmux session (DESIGN §3)

Hardening: no network (unless limits.network), cap_drop ALL + a few, no-new-privileges, memory
and swap equal, CPU quota, pids limit, nofile/fsize ulimits, /logs on a size-capped mount, a
watchdog that kills the container when its writable layer passes the storage cap. The container
is removed on close — also on exceptions, Ctrl-C (see `close_all`) and interpreter exit.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import docker.errors
import docker.types

from termforge.errors import TaskFormatError, TermforgeError
from termforge.executor.docker_env import client
from termforge.executor.limits import SandboxLimits
from termforge.executor.storage import LogsMount, safe_copy_tree, tree_bytes

SANDBOX_LABEL = "org.termforge.sandbox"
OWNER_HOST_LABEL = "org.termforge.owner_host"  # pids mean something only on the owner's host
_live: dict[str, "Sandbox"] = {}
_live_guard = threading.Lock()


@dataclass
class ExecResult:
    exit_code: int | None
    output: bytes
    timed_out: bool
    seconds: float
    truncated: bool = False

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", errors="replace")


@dataclass
class _HeadTail:
    """Keeps the first and last `cap // 2` bytes of a stream."""

    cap: int
    head: bytearray = field(default_factory=bytearray)
    tail: bytearray = field(default_factory=bytearray)
    total: int = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        half = self.cap // 2
        room = half - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            if len(self.tail) > half:
                del self.tail[: len(self.tail) - half]

    def value(self) -> tuple[bytes, bool]:
        if self.total <= self.cap:
            return bytes(self.head + self.tail), False
        marker = f"\n[... {self.total - len(self.head) - len(self.tail)} bytes omitted ...]\n".encode()
        return bytes(self.head) + marker + bytes(self.tail), True


class Sandbox:
    def __init__(self, image: str, limits: SandboxLimits, *, name: str | None = None,
                 workdir: str | None = None, env: dict[str, str] | None = None):
        self.image = image
        self.limits = limits
        self.name = f"termforge-{name or 'sandbox'}-{uuid.uuid4().hex[:8]}"
        self.workdir = workdir
        self.env = dict(env or {})
        self.container = None
        self.logs: LogsMount | None = None
        self.limits_hit: list[str] = []
        self.start_seconds: float | None = None
        self._upper_dir: str | None = None
        self._host_writable: list[str] = []
        self._watchdog: threading.Thread | None = None
        self._closing = threading.Event()
        self._closed = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> "Sandbox":
        t0 = time.perf_counter()
        self.logs = LogsMount(self.limits.logs_mb)
        lim = self.limits
        with _live_guard:
            _live[self.name] = self
        try:
            self.container = client().containers.run(
                self.image,
                command=["sleep", "infinity"],
                entrypoint=[],
                name=self.name,
                hostname="sandbox",  # fixed: the prompt `root@sandbox:/app#` is the same every run
                detach=True,
                init=True,
                working_dir=self.workdir,
                environment=self.env,
                labels={SANDBOX_LABEL: "1", "org.termforge.owner_pid": str(os.getpid()),
                        OWNER_HOST_LABEL: socket.gethostname()},
                network_mode="bridge" if lim.network else "none",
                mem_limit=f"{lim.memory_mb}m",
                memswap_limit=f"{lim.memory_mb}m",
                nano_cpus=int(lim.cpus * 1e9),
                pids_limit=lim.pids,
                cap_drop=["ALL"],
                cap_add=list(lim.caps),
                security_opt=["no-new-privileges:true"],
                ulimits=[
                    docker.types.Ulimit(name="nofile", soft=lim.nofile, hard=lim.nofile),
                    docker.types.Ulimit(name="fsize", soft=lim.fsize_bytes, hard=lim.fsize_bytes),
                    docker.types.Ulimit(name="core", soft=0, hard=0),
                ],
                shm_size=f"{lim.shm_mb}m",
                volumes=self.logs.binds(),
                ipc_mode="private",
                # PID 1's stdout/stderr reach the daemon, which would append them to a host log
                # file outside every cap; nothing reads container logs (exec output is streamed)
                log_config=docker.types.LogConfig(type="none"),
            )
        except docker.errors.ImageNotFound:
            self.close()
            raise TermforgeError(f"image {self.image!r} not found; build it first") from None
        except docker.errors.APIError as exc:
            self.close()
            raise TermforgeError(f"cannot start a sandbox from {self.image!r}: "
                                 f"{exc.explanation or exc}") from None
        except BaseException:
            self.close()
            raise
        self.start_seconds = time.perf_counter() - t0
        self._watchdog = threading.Thread(target=self._watch, name=f"watch-{self.name}", daemon=True)
        self._watchdog.start()
        return self

    def __enter__(self) -> "Sandbox":
        return self.start() if self.container is None else self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the container and the logs mount; safe to call twice and from other threads."""
        if self._closed:
            return
        self._closed = True
        self._closing.set()
        if self.container is None and self.logs is not None:
            # containers.run creates, then starts: a start that failed leaves a created container
            try:
                found = client().containers.get(self.name)
                if found.labels.get("org.termforge.owner_pid") == str(os.getpid()):
                    self.container = found
            except Exception:
                pass
        if self.container is not None:
            try:
                self.container.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                try:  # retry once: removal can race with the watchdog's kill
                    time.sleep(0.5)
                    self.container.remove(force=True, v=True)
                except docker.errors.APIError:
                    pass
        if self._watchdog is not None and self._watchdog is not threading.current_thread():
            self._watchdog.join(timeout=5)
        if self.logs is not None:
            self.logs.close()
        with _live_guard:
            _live.pop(self.name, None)

    # ------------------------------------------------------------------ limits

    def _watch(self) -> None:
        """Kill the container when its writable layer (plus /logs when uncapped) passes the cap."""
        cap = self.limits.storage_mb * 1024 * 1024
        try:  # the paths of /etc/hosts & co. are only known once the container has started
            self.container.reload()
        except docker.errors.APIError:
            pass
        attrs = self.container.attrs
        try:
            self._upper_dir = attrs["GraphDriver"]["Data"].get("UpperDir")
        except (KeyError, TypeError, AttributeError):
            self._upper_dir = None
        # Host paths the container writes to outside its writable layer: anonymous volumes (a
        # VOLUME in the task's Dockerfile) and the bind-mounted /etc/hosts, hostname, resolv.conf.
        self._host_writable = [m["Source"] for m in attrs.get("Mounts") or ()
                               if m.get("Type") == "volume" and m.get("Source")]
        self._host_writable += [attrs[k] for k in ("HostsPath", "HostnamePath", "ResolvConfPath")
                                if attrs.get(k)]
        interval = self.limits.watch_interval_sec
        while not self._closing.wait(interval):
            t0 = time.perf_counter()
            used = self.storage_used(limit=cap)
            if used > cap:
                self._hit("storage_limit")
                try:
                    self.container.kill()
                except docker.errors.APIError:
                    pass
                return
            # a big tree costs more to scan: keep the watchdog's share of a core small
            interval = max(self.limits.watch_interval_sec, 4 * (time.perf_counter() - t0))

    def storage_used(self, limit: int | None = None) -> int:
        used = self.logs.used_bytes() if self.logs else 0
        if self._upper_dir and os.path.isdir(self._upper_dir):
            used += tree_bytes(self._upper_dir, limit=limit)
        for path in self._host_writable:
            try:
                st = os.lstat(path)
            except OSError:
                continue
            used += tree_bytes(path, limit=limit) if stat.S_ISDIR(st.st_mode) else st.st_blocks * 512
        return used

    def _hit(self, cause: str) -> None:
        if cause not in self.limits_hit:
            self.limits_hit.append(cause)

    def check_cgroup_events(self) -> list[str]:
        """Record OOM kills and pid-limit hits from the container's cgroups (v1 and v2)."""
        if self.container is None:
            return self.limits_hit
        cid = self.container.id
        for path in (f"/sys/fs/cgroup/memory/docker/{cid}/memory.oom_control",
                     f"/sys/fs/cgroup/docker/{cid}/memory.events",
                     f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.events"):
            if _cgroup_counter(path, "oom_kill") > 0:
                self._hit("oom")
                break
        for path in (f"/sys/fs/cgroup/pids/docker/{cid}/pids.events",
                     f"/sys/fs/cgroup/docker/{cid}/pids.events",
                     f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/pids.events"):
            if _cgroup_counter(path, "max") > 0:
                self._hit("pids_limit")
                break
        return self.limits_hit

    def is_running(self) -> bool:
        try:
            self.container.reload()
        except docker.errors.NotFound:
            return False
        return self.container.status == "running"

    # ------------------------------------------------------------------ exec and files

    def exec(self, cmd: list[str] | str, *, timeout: float | None = None, user: str | None = None,
             workdir: str | None = None, env: dict[str, str] | None = None,
             output_cap: int | None = None) -> ExecResult:
        """Run a command in the container; stdout+stderr kept up to `output_cap` (head and tail).

        On timeout the command's whole process tree is killed (the sandbox stays usable).
        """
        if isinstance(cmd, str):
            cmd = ["bash", "-c", cmd]
        api = client().api
        t0 = time.perf_counter()
        try:
            exec_id = api.exec_create(self.container.id, cmd, stdout=True, stderr=True,
                                      user=user or "",
                                      workdir=workdir, environment=env)["Id"]
        except docker.errors.APIError as exc:
            return ExecResult(None, f"exec failed: {exc.explanation or exc}".encode(), False,
                              time.perf_counter() - t0)
        buf = _HeadTail(output_cap or self.limits.exec_output_bytes)
        done = threading.Event()

        def pump() -> None:
            try:
                for chunk in api.exec_start(exec_id, stream=True):
                    buf.add(chunk)
            except Exception:  # connection dropped when the container was killed
                pass
            finally:
                done.set()

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = not done.wait(timeout) if timeout is not None else not done.wait()
        if timed_out:
            self.kill_exec(exec_id)
            done.wait(5)
        exit_code = None
        try:
            info = api.exec_inspect(exec_id)
            if not info.get("Running"):
                exit_code = info.get("ExitCode")
        except docker.errors.APIError:
            pass
        output, truncated = buf.value()
        return ExecResult(exit_code, output, timed_out, time.perf_counter() - t0, truncated)

    def kill_exec(self, exec_id: str) -> None:
        """SIGKILL an exec'd process and all its descendants (host-side, via /proc)."""
        try:
            pid = client().api.exec_inspect(exec_id).get("Pid")
        except docker.errors.APIError:
            pid = None
        if pid and self._owns_process(pid) and kill_process_tree(pid):
            return
        try:  # cannot see the processes from here: end the whole sandbox
            self.container.kill()
        except docker.errors.APIError:
            pass

    def _owns_process(self, pid: int) -> bool:
        """Is host pid a process of this container? The exec's process may have exited (a child
        still holding its output) and its pid been reused by a host process meanwhile."""
        try:
            with open(f"/proc/{pid}/cgroup") as f:
                return self.container.id in f.read()
        except OSError:
            return False

    def put_dir(self, host_dir: Path, container_path: str, *, mode: int | None = None) -> None:
        """Copy a host directory into the container at `container_path` (created, root-owned).

        Links inside it are copied as links; a host_dir that is itself a link is refused: a task
        whose tests/ or solution/ leads elsewhere on the host must not copy that place in.
        """
        if Path(host_dir).is_symlink():
            raise TaskFormatError(host_dir, f"is a symbolic link (to {os.readlink(host_dir)}); "
                                  "a task's folders must be real directories")
        buf = io.BytesIO()
        top = container_path.strip("/")
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(top)
            info.type = tarfile.DIRTYPE
            info.mode = mode if mode is not None else 0o755
            tar.addfile(info)
            for path in sorted(Path(host_dir).rglob("*")):
                arc = f"{top}/{path.relative_to(host_dir).as_posix()}"
                ti = tar.gettarinfo(str(path), arcname=arc)
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = "root"
                if ti.isreg():
                    with open(path, "rb") as f:
                        tar.addfile(ti, f)
                else:
                    tar.addfile(ti)
        try:
            client().api.put_archive(self.container.id, "/", buf.getvalue())
        except docker.errors.APIError as exc:
            raise TermforgeError(f"cannot copy {host_dir} into the sandbox at {container_path}: "
                                 f"{exc.explanation or exc}") from None

    def copy_logs_to(self, dest: Path) -> list[str]:
        """Copy /logs/{agent,verifier,artifacts} to dest without following links; returns skipped."""
        skipped = safe_copy_tree(self.logs.dir, dest, max_bytes=self.limits.logs_mb << 20)
        return skipped

    def terminal(self, **kwargs):
        from termforge.executor.terminal import TmuxSession

        return TmuxSession(self, **kwargs).start()


def _cgroup_counter(path: str, key: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[0] == key:
                    return int(parts[1])
    except (OSError, ValueError):
        pass
    return 0


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid … ; comm may contain spaces and parens
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) > 1:
            children.setdefault(int(rest[1]), []).append(int(entry))
    return children


def kill_process_tree(pid: int) -> bool:
    """SIGKILL pid and its descendants; False when the process is not visible from here."""
    if not os.path.exists(f"/proc/{pid}"):
        return False
    children = _children_map()
    order, stack = [], [pid]
    while stack:
        p = stack.pop()
        order.append(p)
        stack.extend(children.get(p, ()))
    for p in order:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
        except PermissionError:
            return False
    return True


def close_all() -> None:
    """Remove every sandbox this process still holds (Ctrl-C, SIGTERM, exit)."""
    with _live_guard:
        boxes = list(_live.values())
    for box in boxes:
        try:
            box.close()
        except Exception:
            pass


def remove_stale_sandboxes() -> int:
    """Remove sandboxes left by processes of this host that no longer exist (e.g. after SIGKILL,
    or a Ray worker that died), with their /logs mounts.

    Containers of another host sharing the daemon (pods using a node's Docker socket) are left
    alone: their owners' pids are not visible from here.
    """
    removed = 0
    host = socket.gethostname()
    for c in client().containers.list(all=True, filters={"label": SANDBOX_LABEL}):
        owner = c.labels.get("org.termforge.owner_pid", "")
        if c.labels.get(OWNER_HOST_LABEL, host) != host:
            continue
        if owner.isdigit() and int(owner) != os.getpid() and os.path.exists(f"/proc/{owner}"):
            continue
        if owner == str(os.getpid()):
            continue
        try:
            c.remove(force=True, v=True)
            removed += 1
        except docker.errors.APIError:
            continue
        _release_logs_mount(c)
    return removed


def _release_logs_mount(container) -> None:
    """Unmount and delete the /logs directory a removed sandbox was given (see LogsMount)."""
    bases = {Path(m["Source"]).parent.parent for m in container.attrs.get("Mounts", [])
             if m.get("Destination", "").startswith("/logs/") and "termforge-logs-" in m.get("Source", "")}
    for base in bases:
        mnt = base / "mnt"
        if os.path.ismount(mnt):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=60)
        if base.name.startswith("termforge-logs-"):
            shutil.rmtree(base, ignore_errors=True)


atexit.register(close_all)
