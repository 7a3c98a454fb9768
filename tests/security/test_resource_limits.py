"""Hostile tasks against the sandbox's resource limits: processes, memory, disk, output, time.

Each case runs a real task through run_trial with the oracle agent (its solution/solve.sh is
the attack) and asserts from the host: the trial ended within its budget, result.json records
the cause, the host-side counters stayed within the limits, and nothing was left behind
(conftest's `no_leaks`).
"""

from __future__ import annotations

import os
import resource
import uuid

import docker
import docker.errors
import pytest

from termforge.executor.limits import SandboxLimits
from termforge.executor.sandbox import Sandbox
from termforge.executor.trial import TrialOptions
from tests.security.hostile import (BASE_IMAGE, MB, CgroupSampler, host_processes_with, make_task,
                                    run_hostile)

pytestmark = pytest.mark.docker


@pytest.mark.timeout(40)
def test_fork_bomb_is_held_at_the_pids_limit(tmp_path):
    # Every process forks forever: without a pids limit this takes the host down.
    solve = ('python3 -c "\nimport os, time\nwhile True:\n'
             '    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n"\n')
    task = make_task(tmp_path, "fork-bomb", solve, agent_timeout_sec=3, verifier_timeout_sec=5)
    sampler = CgroupSampler()
    trial = run_hostile(task, tmp_path / "trial", budget=20, on_sandbox=sampler,
                        options=TrialOptions(limit_overrides={"pids": 64}))
    sampler.join()
    assert "pids_limit" in trial.limits_hit
    assert "agent_timeout" in trial.limits_hit
    assert trial.exception_type == "AgentTimeoutError"
    assert 32 <= sampler.peaks["pids"] <= 64, sampler.peaks
    # the bomb's process tree was killed at the timeout: the verifier could still run
    assert trial.reward == 1.0


@pytest.mark.timeout(40)
def test_memory_hog_is_oom_killed_and_recorded(tmp_path):
    solve = ('python3 -c "\nhog = []\nfor _ in range(128):\n    hog.append(bytearray(16 << 20))\n'
             'open(\'/app/hog-finished\', \'w\').write(\'2 GiB\')\n"\n'
             'echo "hog exit $?"\n')
    test = "[ -e /app/hog-finished ] && echo 0 > /logs/verifier/reward.txt " \
           "|| echo 1 > /logs/verifier/reward.txt\n"
    task = make_task(tmp_path, "memory-hog", solve, test, memory_mb=128)
    sampler = CgroupSampler()
    trial = run_hostile(task, tmp_path / "trial", budget=25, on_sandbox=sampler)
    sampler.join()
    assert "oom" in trial.limits_hit
    assert "hog exit 137" in trial.text("agent/oracle.txt")  # SIGKILL by the OOM killer
    assert 64 * MB < sampler.peaks["memory"] <= 128 * MB, sampler.peaks  # the host's accounting
    assert trial.reward == 1.0  # the sandbox survived; the hog never got its 2 GiB


@pytest.mark.timeout(40)
def test_disk_fill_past_the_storage_cap_kills_the_sandbox(tmp_path):
    solve = "i=0\nwhile :; do i=$((i+1)); head -c 8M /dev/zero > /app/fill$i; done\n"
    task = make_task(tmp_path, "disk-fill", solve, storage_mb=32, agent_timeout_sec=20)
    sampler = CgroupSampler()
    trial = run_hostile(task, tmp_path / "trial", budget=15, on_sandbox=sampler)
    assert trial.exception_type == "SandboxTerminatedError"
    assert "storage_limit" in trial.exception_message
    assert trial.limits_hit == ["storage_limit"]
    used = trial.result["termforge"]["storage_used_mb"]
    assert 32 < used < 32 + 256, used  # killed soon after the cap, not when the host disk is full
    assert sampler.upper_dir and not os.path.exists(sampler.upper_dir)  # the layer was removed


@pytest.mark.timeout(40)
def test_empty_file_flood_counts_against_the_storage_cap(tmp_path):
    # Empty files take no data blocks but each takes a host inode: counting only blocks lets a
    # task exhaust the host file system's inodes while staying "under" its storage cap.
    solve = ("mkdir -p /app/flood && cd /app/flood\n"
             "for d in $(seq 1 40); do mkdir $d && (cd $d && seq 1 1000 | xargs touch); done\n"
             "echo created $(find /app/flood -type f | wc -l)\n")
    task = make_task(tmp_path, "inode-flood", solve, storage_mb=16, agent_timeout_sec=25)
    trial = run_hostile(task, tmp_path / "trial", budget=30)
    assert trial.exception_type == "SandboxTerminatedError", trial.text("agent/oracle.txt")
    assert trial.limits_hit == ["storage_limit"]


@pytest.mark.timeout(40)
def test_dockerfile_volume_counts_against_the_storage_cap(tmp_path, docker_client):
    # A VOLUME in the task's Dockerfile gives the container a host directory outside its
    # writable layer (/var/lib/docker/volumes/...): writes there must count against the cap.
    dockerfile = f"FROM {BASE_IMAGE}\nVOLUME /data\nWORKDIR /app\n"
    solve = "i=0\nwhile :; do i=$((i+1)); head -c 8M /dev/zero > /data/fill$i || sleep 0.1; done\n"
    task = make_task(tmp_path, "volume-fill", solve, dockerfile=dockerfile, storage_mb=32,
                     agent_timeout_sec=8)
    sampler = CgroupSampler()
    trial = run_hostile(task, tmp_path / "trial", budget=15, on_sandbox=sampler)
    assert sampler.volumes, "the task's VOLUME did not become a volume"
    assert trial.exception_type == "SandboxTerminatedError"
    assert trial.limits_hit == ["storage_limit"]
    for name in sampler.volumes:  # the anonymous volume went with the container
        with pytest.raises(docker.errors.NotFound):
            docker_client.volumes.get(name)


@pytest.mark.timeout(40)
def test_writes_to_etc_hosts_count_against_the_storage_cap(tmp_path):
    # /etc/hosts, /etc/hostname and /etc/resolv.conf are host files bind-mounted read-write
    # from /var/lib/docker/containers/<id>/: each can grow up to the fsize ulimit.
    solve = ("for f in /etc/hosts /etc/hostname /etc/resolv.conf; do\n"
             "  head -c 20M /dev/zero > $f; done\nsleep 30\n")
    task = make_task(tmp_path, "etc-hosts-fill", solve, storage_mb=32, agent_timeout_sec=8)
    trial = run_hostile(task, tmp_path / "trial", budget=15)
    assert trial.exception_type == "SandboxTerminatedError"
    assert trial.limits_hit == ["storage_limit"]


@pytest.mark.timeout(40)
def test_container_stdout_cannot_fill_the_host_log(tmp_path):
    # PID 1's stdout and stderr are pipes to the Docker daemon, which appends whatever arrives
    # to a log file on the host: a storage cap that only watches the writable layer misses it.
    solve = ("head -c 48M /dev/zero | tr '\\0' x > /proc/1/fd/1\n"
             "head -c 48M /dev/zero | tr '\\0' y > /proc/1/fd/2\necho wrote $?\n")
    task = make_task(tmp_path, "container-log-fill", solve, agent_timeout_sec=10)
    sampler = CgroupSampler()
    trial = run_hostile(task, tmp_path / "trial", budget=20, on_sandbox=sampler)
    sampler.join()
    assert trial.exception_type is None and trial.reward == 1.0
    assert "wrote 0" in trial.text("agent/oracle.txt")  # the writes went through, and nowhere
    assert sampler.peaks.get("log_bytes", 0) < 1 * MB, sampler.peaks


@pytest.mark.timeout(40)
def test_single_huge_file_stops_at_the_fsize_limit(tmp_path):
    # tmpfs (/dev/shm) is not watched as disk, but no single file may pass the storage cap.
    solve = "head -c 100M /dev/zero > /dev/shm/huge\necho \"head exit $?\"\n"
    test = ('s=$(stat -c %s /dev/shm/huge); echo "size $s"\n'
            '[ "$s" -eq $((32 * 1024 * 1024)) ] && echo 1 > /logs/verifier/reward.txt '
            '|| echo 0 > /logs/verifier/reward.txt\n')
    task = make_task(tmp_path, "huge-file", solve, test, storage_mb=32)
    trial = run_hostile(task, tmp_path / "trial", budget=15,
                        options=TrialOptions(limit_overrides={"shm_mb": 128}))
    assert "File size limit exceeded" in trial.text("agent/oracle.txt")
    assert "head exit 153" in trial.text("agent/oracle.txt")  # 128 + SIGXFSZ
    assert trial.exception_type is None and trial.limits_hit == []
    assert trial.reward == 1.0, trial.text("verifier/test-stdout.txt")


@pytest.mark.timeout(40)
def test_logs_fill_ends_with_enospc_inside_the_sandbox(tmp_path):
    # /logs is a 16 MB loop mount here: the fill ends with ENOSPC, the host's /tmp is untouched.
    # Its messages go to the writable layer, as /logs (oracle.txt included) is full.
    solve = ("head -c 100M /dev/zero > /logs/artifacts/fill 2> /app/err.txt\n"
             "echo \"head exit $?\" >> /app/err.txt\n")
    # the verifier shares the /logs file system: it frees it before writing its reward
    test = ('s=$(stat -c %s /logs/artifacts/fill); truncate -s 1M /logs/artifacts/fill\n'
            'cat /app/err.txt; echo "size $s"\n'
            'grep -q "No space left on device" /app/err.txt && grep -q "head exit 1" /app/err.txt '
            '&& [ "$s" -le $((16 * 1024 * 1024)) ] && echo 1 > /logs/verifier/reward.txt '
            '|| echo 0 > /logs/verifier/reward.txt\n')
    task = make_task(tmp_path, "logs-fill", solve, test)
    trial = run_hostile(task, tmp_path / "trial", budget=15,
                        options=TrialOptions(limit_overrides={"logs_mb": 16}))
    assert trial.exception_type is None and trial.limits_hit == []
    assert trial.reward == 1.0, trial.text("verifier/test-stdout.txt")
    assert (trial.dir / "artifacts" / "fill").stat().st_size == 1 * MB


@pytest.mark.timeout(40)
def test_output_flood_of_the_agent_is_capped_by_the_logs_mount(tmp_path):
    # The oracle's stdout goes to /logs/agent/oracle.txt: an endless flood ends at the cap and
    # the trial still writes its result.
    solve = "yes 'flood flood flood flood flood flood flood flood'\necho \"yes exit $?\" >&2\n"
    test = "truncate -s 4M /logs/agent/oracle.txt\necho 1 > /logs/verifier/reward.txt\n"
    task = make_task(tmp_path, "agent-output-flood", solve, test)
    trial = run_hostile(task, tmp_path / "trial", budget=20,
                        options=TrialOptions(limit_overrides={"logs_mb": 16}))
    assert trial.exception_type is None and trial.reward == 1.0
    assert trial.text("agent/oracle.txt").startswith("flood flood")
    assert (trial.dir / "agent" / "oracle.txt").stat().st_size == 4 * MB


@pytest.mark.timeout(40)
def test_output_flood_on_exec_keeps_host_memory_bounded(timed):
    limits = SandboxLimits(memory_mb=128, storage_mb=64, cpus=0.5, pids=64)
    before_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with Sandbox(BASE_IMAGE, limits, name="security-exec-flood") as sb:
        with timed(15):
            r = sb.exec("head -c 96M /dev/zero; echo TAIL-MARK", output_cap=1 * MB)
        assert r.exit_code == 0 and r.truncated
        assert len(r.output) < 1 * MB + 200
        assert r.output.endswith(b"TAIL-MARK\n") and b"bytes omitted" in r.output
        with timed(10):
            r = sb.exec(["yes", "endless"], timeout=2, output_cap=64 << 10)
        assert r.timed_out and r.truncated and len(r.output) < (64 << 10) + 200
        assert sb.exec("echo still-usable").text == "still-usable\n"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before_kb) / 1024
    assert grown_mb < 48, f"the host process grew by {grown_mb:.0f} MB while reading a flood"


@pytest.mark.timeout(40)
def test_agent_timeout_is_recorded_and_the_verifier_still_runs(tmp_path):
    solve = "trap '' TERM INT HUP\nwhile :; do sleep 1; done\n"
    task = make_task(tmp_path, "agent-timeout", solve, agent_timeout_sec=2)
    trial = run_hostile(task, tmp_path / "trial", budget=12)
    assert trial.exception_type == "AgentTimeoutError"
    assert trial.limits_hit == ["agent_timeout"]
    assert trial.reward == 1.0  # the verifier ran after the agent was stopped


@pytest.mark.timeout(40)
def test_verifier_timeout_is_recorded(tmp_path):
    test = "trap '' TERM INT HUP\necho 1 > /logs/verifier/reward.txt\nsleep infinity\n"
    task = make_task(tmp_path, "verifier-timeout", "true\n", test, verifier_timeout_sec=2)
    trial = run_hostile(task, tmp_path / "trial", budget=12)
    assert trial.exception_type == "VerifierTimeoutError"
    assert trial.limits_hit == ["verifier_timeout"]
    assert trial.result["verifier_result"] is None  # no reward from a verifier that timed out


@pytest.mark.timeout(40)
def test_daemons_left_by_the_agent_do_not_outlive_the_trial(tmp_path):
    token = f"tf-daemon-{uuid.uuid4().hex[:12]}"
    solve = (f"nohup bash -c 'while :; do sleep 1; done' {token}-nohup >/dev/null 2>&1 &\n"
             f"setsid bash -c 'trap \"\" TERM HUP; while :; do sleep 1; done' {token}-setsid "
             ">/dev/null 2>&1 < /dev/null &\n"
             f"(bash -c 'while :; do sleep 1; done' {token}-orphan >/dev/null 2>&1 &)\n"
             "disown -a\n")
    # the verifier sees the three daemons still running after the agent ended
    test = (f'n=$(pgrep -c -f "{token}")\necho "daemons $n"\n'
            '[ "$n" -eq 3 ] && echo 1 > /logs/verifier/reward.txt '
            '|| echo 0 > /logs/verifier/reward.txt\n')
    task = make_task(tmp_path, "daemons", solve, test)
    trial = run_hostile(task, tmp_path / "trial", budget=15)
    assert trial.reward == 1.0, trial.text("verifier/test-stdout.txt")
    assert host_processes_with(token) == []
