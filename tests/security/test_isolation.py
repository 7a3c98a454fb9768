"""Hostile tasks that try to leave the sandbox: network, Docker socket, mounts and namespaces,
kernel interfaces, raw devices, privilege escalation.

The attack (solution/solve.sh) prints one line per attempt, "blocked <what>" or
"ESCAPED <what>", to /logs/agent/oracle.txt; the task's tests/test.sh gives reward 1 only when
every attempt ran and was blocked. The host side checks what it can see itself: no connection
reached a server the test runs on the host's loopback, the host's kernel settings and mount
table are unchanged.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
import uuid

import pytest

from tests.security.hostile import make_task, run_hostile

pytestmark = pytest.mark.docker

PROBE_FN = ('probe() { local what=$1; shift\n'
            '  if "$@" >/dev/null 2>&1; then echo "ESCAPED $what"; else echo "blocked $what"; fi; }\n')


def verdict_test(expected_blocked: int) -> str:
    """tests/test.sh: reward 1 iff all `expected_blocked` attempts ran and none escaped."""
    return ("log=/logs/agent/oracle.txt\ncat $log\n"
            f'if ! grep -q ESCAPED $log && [ "$(grep -c "^blocked " $log)" -eq {expected_blocked} ]'
            "; then echo 1 > /logs/verifier/reward.txt; else echo 0 > /logs/verifier/reward.txt; fi\n")


def blocked_lines(trial) -> list[str]:
    return re.findall(r"^blocked (\S+)", trial.text("agent/oracle.txt"), re.M)


class LoopbackServers:
    """A TCP, a UDP and an abstract-namespace Unix server on the host's loopback only."""

    def __init__(self):
        self.tcp = socket.create_server(("127.0.0.1", 0))
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.setblocking(False)
        self.abstract_name = f"termforge-security-{uuid.uuid4().hex[:12]}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract_name)
        self.unix.listen()
        self.unix.settimeout(0.2)
        self.accepted: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._accept, args=(s, kind), daemon=True)
                         for s, kind in ((self.tcp, "tcp"), (self.unix, "unix"))]
        for t in self._threads:
            t.start()

    @property
    def tcp_port(self) -> int:
        return self.tcp.getsockname()[1]

    @property
    def udp_port(self) -> int:
        return self.udp.getsockname()[1]

    def _accept(self, sock: socket.socket, kind: str) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.accepted.append(kind)
            conn.close()

    def datagrams(self) -> list[bytes]:
        got = []
        while True:
            try:
                got.append(self.udp.recv(65536))
            except BlockingIOError:
                return got

    def self_check(self) -> None:
        """The servers do accept from the host itself: a silent server proves nothing."""
        socket.create_connection(("127.0.0.1", self.tcp_port), timeout=2).close()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect("\0" + self.abstract_name)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"host-self-check", ("127.0.0.1", self.udp_port))

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        for s in (self.tcp, self.udp, self.unix):
            s.close()


@pytest.fixture
def loopback():
    servers = LoopbackServers()
    yield servers
    servers.close()


NET_PROBE = r'''
import os, socket, sys
TCP, UDP, ABSTRACT = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
def say(escaped, what, why=""):
    print(("ESCAPED " if escaped else "blocked ") + what, why, flush=True)
# control: the sandbox's own loopback works, so a failure below is isolation, not a broken probe
srv = socket.create_server(("127.0.0.1", 0))
socket.create_connection(srv.getsockname(), timeout=2).close()
print("control own-loopback-ok", flush=True)
try:
    socket.create_connection(("127.0.0.1", TCP), timeout=2).close(); say(True, "tcp-host-loopback")
except OSError as e:
    say(False, "tcp-host-loopback", e)
try:
    s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect("\0" + ABSTRACT)
    say(True, "abstract-unix-socket")
except OSError as e:
    say(False, "abstract-unix-socket", e)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5):
    try:
        u.sendto(b"udp-from-sandbox", ("127.0.0.1", UDP))
    except OSError:
        pass
ifaces = sorted(os.listdir("/sys/class/net"))
say(ifaces != ["lo"], "interfaces", ifaces)
routes = open("/proc/net/route").read().splitlines()[1:]
say(bool(routes), "ipv4-routes", len(routes))
'''


@pytest.mark.timeout(40)
def test_no_network_egress_to_the_host_loopback(tmp_path, loopback):
    solve = (PROBE_FN +
             f"python3 /solution/net_probe.py {loopback.tcp_port} {loopback.udp_port} "
             f"{loopback.abstract_name}\n"
             f"probe curl-host-loopback curl -sS -m 2 http://127.0.0.1:{loopback.tcp_port}/\n"
             f"probe bash-dev-tcp timeout 3 bash -c 'echo x > /dev/tcp/127.0.0.1/{loopback.tcp_port}'\n"
             f"probe netcat timeout 3 nc -z -w 2 127.0.0.1 {loopback.tcp_port}\n"
             "probe docker-api-tcp curl -sS -m 2 http://127.0.0.1:2375/version\n"
             "probe resolve-host getent hosts host.docker.internal\n")
    # the task asks for internet; the trial did not opt in, so it must not get any
    task = make_task(tmp_path, "network-egress", solve, verdict_test(9), allow_internet=True,
                     extra_files={"solution/net_probe.py": NET_PROBE})
    trial = run_hostile(task, tmp_path / "trial", budget=30)
    assert "control own-loopback-ok" in trial.text("agent/oracle.txt")
    assert trial.reward == 1.0, trial.text("agent/oracle.txt")
    assert trial.result["termforge"]["limits"]["network"] is False
    assert loopback.accepted == []
    assert loopback.datagrams() == []
    loopback.self_check()  # the servers were listening all along
    deadline = time.monotonic() + 3
    while len(loopback.accepted) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(loopback.accepted) == ["tcp", "unix"] and len(loopback.datagrams()) == 1


# `find -type s` trusts the directory entry's type and misses a socket bind-mounted over a
# file: stat every entry instead. Exits 0 (an escape) when it finds any socket.
FIND_SOCKETS = r'''
import os, stat, sys
found = []
for top, dirs, files in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys")]
    for name in dirs + files:
        try:
            if stat.S_ISSOCK(os.lstat(os.path.join(top, name)).st_mode):
                found.append(os.path.join(top, name))
        except OSError:
            pass
print("sockets:", found, file=sys.stderr)
sys.exit(0 if found else 1)
'''


@pytest.mark.timeout(40)
def test_docker_socket_is_absent_and_unreachable(tmp_path):
    solve = (PROBE_FN +
             "for p in /var/run/docker.sock /run/docker.sock /run/containerd/containerd.sock "
             "/var/run/docker /run/containerd; do probe exists:$p test -e $p; done\n"
             "probe curl-docker-sock curl -sS -m 2 --unix-socket /var/run/docker.sock "
             "http://localhost/version\n"
             "probe any-socket-file python3 /solution/find_sockets.py\n"
             "probe docker-env sh -c 'env | grep -qi docker'\n")
    task = make_task(tmp_path, "docker-socket", solve, verdict_test(8),
                     extra_files={"solution/find_sockets.py": FIND_SOCKETS})
    assert os.path.exists("/var/run/docker.sock")  # the host has one: the test means something
    trial = run_hostile(task, tmp_path / "trial", budget=20)
    assert trial.reward == 1.0, trial.text("agent/oracle.txt")
    assert len(blocked_lines(trial)) == 8


@pytest.mark.timeout(40)
def test_mounts_and_new_namespaces_are_refused(tmp_path):
    token = f"tfmount{uuid.uuid4().hex[:10]}"
    solve = (PROBE_FN + "mkdir -p /tmp/m\n"
             f"probe mount-tmpfs mount -t tmpfs {token} /tmp/m\n"
             "probe mount-bind mount --bind / /tmp/m\n"
             "probe mount-proc mount -t proc proc /tmp/m\n"
             "probe mount-cgroup mount -t cgroup -o memory cgroup /tmp/m\n"
             "probe remount-sys-rw mount -o remount,rw /sys\n"
             "probe umount-logs umount /logs/agent\n"
             "probe umount-etc-hosts umount /etc/hosts\n"
             "probe unshare-mount unshare -m true\n"
             "probe unshare-user unshare -U -r true\n"
             "probe unshare-net unshare -n true\n"
             "probe unshare-pid unshare -p -f true\n"
             "probe chroot chroot / true\n"
             "probe nsenter-pid1 nsenter -t 1 -m -u -i -n -p true\n")
    task = make_task(tmp_path, "mount-namespaces", solve, verdict_test(13))
    trial = run_hostile(task, tmp_path / "trial", budget=20)
    assert trial.reward == 1.0, trial.text("agent/oracle.txt")
    with open("/proc/mounts") as f:
        assert token not in f.read()
    assert trial.text("agent/oracle.txt")  # /logs/agent stayed mounted and was copied out


@pytest.mark.timeout(40)
def test_kernel_and_sysrq_interfaces_are_read_only(tmp_path):
    token = f"core-{uuid.uuid4().hex[:10]}"
    kmod = r'''
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
def call(name, nr, *args):
    r = libc.syscall(nr, *args); e = ctypes.get_errno()
    # EPERM: refused for want of a capability (or by seccomp); anything else means the kernel
    # looked at the request, i.e. the sandbox holds the capability
    print(("blocked " if r == -1 and e == errno.EPERM else "ESCAPED ") + name, r, e, flush=True)
call("delete_module", 176, b"termforge_no_such_module", 0)
fd = os.open("/dev/null", os.O_RDONLY)
call("finit_module", 313, fd, b"", 0)
'''
    # Writes that would be harmless on the host had they got through (sysrq 'h' prints help;
    # sysctl and sysfs writes put back the current value), except core_pattern, which the
    # host side checks and restores.
    solve = (PROBE_FN +
             "probe sysrq-trigger sh -c 'echo h > /proc/sysrq-trigger'\n"
             f"probe core-pattern sh -c 'echo {token} > /proc/sys/kernel/core_pattern'\n"
             "probe drop-caches sh -c 'echo 1 > /proc/sys/vm/drop_caches'\n"
             "probe sysctl-write sh -c 'sysctl -w kernel.printk_ratelimit="
             "$(cat /proc/sys/kernel/printk_ratelimit)'\n"
             "probe sysfs-write sh -c 'touch /sys/kernel/termforge-probe'\n"
             "probe cgroup-notify sh -c 'echo 1 > /sys/fs/cgroup/memory/notify_on_release'\n"
             "probe kcore-read sh -c '[ $(head -c 16 /proc/kcore | wc -c) -gt 0 ]'\n"
             "probe dmesg dmesg\n"
             "probe set-clock date -s @$(date +%s)\n"
             "python3 /solution/kmod.py\n")
    task = make_task(tmp_path, "kernel-interfaces", solve, verdict_test(11),
                     extra_files={"solution/kmod.py": kmod})
    with open("/proc/sys/kernel/core_pattern") as f:
        core_pattern = f.read()
    try:
        trial = run_hostile(task, tmp_path / "trial", budget=20)
    finally:
        with open("/proc/sys/kernel/core_pattern") as f:
            changed = f.read() != core_pattern
        if changed:  # put the host back before failing
            with open("/proc/sys/kernel/core_pattern", "w") as f:
                f.write(core_pattern)
    assert not changed, "the sandbox rewrote the host's kernel.core_pattern"
    assert trial.reward == 1.0, trial.text("agent/oracle.txt")


@pytest.mark.timeout(40)
def test_raw_devices_are_unavailable(tmp_path):
    root_dev = os.stat("/")
    major, minor = os.major(root_dev.st_dev), os.minor(root_dev.st_dev)
    raw_socket = ('import socket\n'
                  'for fam, proto in ((socket.AF_PACKET, 0x0300), '
                  '(socket.AF_INET, socket.IPPROTO_ICMP)):\n'
                  '    try:\n        socket.socket(fam, socket.SOCK_RAW, proto)\n'
                  '        print("ESCAPED raw-socket", fam)\n'
                  '    except PermissionError as e:\n        print("blocked raw-socket", fam, e)\n')
    solve = (PROBE_FN +
             "for d in /dev/sda /dev/vda /dev/nvme0n1 /dev/mem /dev/kmem /dev/port /dev/loop0 "
             "/dev/loop-control /dev/mapper/control /dev/kvm /dev/fuse /dev/net/tun; do\n"
             "  probe exists:$d test -e $d; done\n"
             f"probe mknod-host-root-disk mknod /tmp/disk b {major} {minor}\n"
             "probe mknod-mem mknod /tmp/mem c 1 1\n"
             "probe mknod-loop mknod /tmp/loop b 7 0\n"
             "probe losetup losetup -f\n"
             "probe block-devices-listed sh -c "
             "\"find /dev -type b | grep -q .\"\n"
             "python3 /solution/raw_socket.py\n")
    task = make_task(tmp_path, "raw-devices", solve, verdict_test(19),
                     extra_files={"solution/raw_socket.py": raw_socket})
    trial = run_hostile(task, tmp_path / "trial", budget=20)
    assert trial.reward == 1.0, trial.text("agent/oracle.txt")


@pytest.mark.timeout(40)
def test_setuid_binaries_do_not_escalate_under_no_new_privileges(tmp_path):
    nobody = "setpriv --reuid=65534 --regid=65534 --clear-groups"
    solve = (PROBE_FN +
             "cp /bin/bash /tmp/rootbash && chmod 4755 /tmp/rootbash\n"
             "cp /usr/bin/python3 /tmp/rootpy && chmod 4755 /tmp/rootpy\n"
             f"[ \"$({nobody} id -u)\" = 65534 ] && echo control nobody-ok\n"
             f"probe setuid-bash sh -c '[ \"$({nobody} /tmp/rootbash -p -c \"id -u\")\" = 0 ]'\n"
             f"probe setuid-python {nobody} /tmp/rootpy -c 'import os; os.setuid(0)'\n"
             f"probe setuid-call {nobody} python3 -c 'import os; os.setuid(0)'\n"
             "probe no-new-privs-off sh -c '! grep -q \"^NoNewPrivs:[[:space:]]*1\" "
             "/proc/self/status'\n")
    task = make_task(tmp_path, "setuid", solve, verdict_test(4))
    trial = run_hostile(task, tmp_path / "trial", budget=20)
    assert "control nobody-ok" in trial.text("agent/oracle.txt")
    assert trial.reward == 1.0, trial.text("agent/oracle.txt")
