"""Task images: FROM remapping, content-hash cache, clear errors for images that cannot be had."""

from __future__ import annotations

import uuid

import pytest

from termforge.errors import ImageMissingError, TermforgeError
from termforge.executor.images import ensure_task_image, parse_image_map, rewrite_from_lines
from termforge.executor.task import load_task

from .conftest import make_task

pytestmark = pytest.mark.docker


def test_rewrite_from_lines_maps_images_not_stages():
    text = ("FROM --platform=linux/amd64 python:3.12 AS build\nRUN x\n"
            "FROM build\nFROM ubuntu:24.04\n")
    out, bases = rewrite_from_lines(text, {"python:3.12": "termforge/base:bookworm"})
    assert out.splitlines()[0] == "FROM --platform=linux/amd64 termforge/base:bookworm AS build"
    assert "FROM build" in out
    assert bases == ["termforge/base:bookworm", "ubuntu:24.04"]


def test_parse_image_map():
    assert parse_image_map(["a:1=b:2", " c = d "]) == {"a:1": "b:2", "c": "d"}
    with pytest.raises(TermforgeError, match="SOURCE_IMAGE=LOCAL_IMAGE"):
        parse_image_map(["nonsense"])


def test_build_is_cached_by_content(tmp_path, docker_ready):
    root = make_task(tmp_path, "img-cache", solve="true", test="echo 1 > /logs/verifier/reward.txt",
                     dockerfile="FROM termforge/base:bookworm\nCOPY data.txt /app/data.txt\n")
    token = uuid.uuid4().hex  # content no earlier run has built
    (root / "environment" / "data.txt").write_text(f"one {token}\n")
    task = load_task(root)
    first = ensure_task_image(task, force=True)
    again = ensure_task_image(task)
    assert not first.cached and again.cached and again.tag == first.tag
    (root / "environment" / "data.txt").write_text(f"two {token}\n")
    changed = ensure_task_image(load_task(root))
    assert changed.tag != first.tag and not changed.cached
    out = docker_ready.containers.run(changed.tag, ["cat", "/app/data.txt"], remove=True,
                                      network_mode="none")
    assert out == f"two {token}\n".encode()


def test_registry_image_gives_map_hint(tmp_path, docker_ready):
    root = make_task(tmp_path, "needs-registry", solve="true", test="true",
                     dockerfile="FROM ghcr.io/someone/private-image:1.2\n")
    with pytest.raises(ImageMissingError) as info:
        ensure_task_image(load_task(root))
    assert "ghcr.io/someone/private-image:1.2" in str(info.value)
    assert "--base-image-map" in str(info.value)


def test_image_map_makes_it_build(tmp_path, docker_ready):
    root = make_task(tmp_path, "mapped", solve="true", test="true",
                     dockerfile="FROM ghcr.io/someone/private-image:1.2\nRUN echo built > /built\n")
    built = ensure_task_image(load_task(root),
                              image_map={"ghcr.io/someone/private-image:1.2": "termforge/base:bookworm"})
    out = docker_ready.containers.run(built.tag, ["cat", "/built"], remove=True, network_mode="none")
    assert out == b"built\n"


def test_build_failure_names_the_dockerfile(tmp_path, docker_ready):
    root = make_task(tmp_path, "bad-build", solve="true", test="true",
                     dockerfile="FROM termforge/base:bookworm\nRUN exit 3\n")
    with pytest.raises(TermforgeError) as info:
        ensure_task_image(load_task(root))
    assert "Dockerfile" in str(info.value) and "build failed" in str(info.value)


def test_builds_have_no_network(tmp_path, docker_ready):
    root = make_task(tmp_path, "build-net", solve="true", test="true",
                     dockerfile="FROM termforge/base:bookworm\n"
                                "RUN ip -o link | awk -F': ' '{print $2}' | sort > /links\n")
    built = ensure_task_image(load_task(root))
    out = docker_ready.containers.run(built.tag, ["cat", "/links"], remove=True, network_mode="none")
    assert out.split() == [b"lo"]


def test_build_steps_are_memory_limited(tmp_path, docker_ready):
    root = make_task(tmp_path, "build-mem", solve="true", test="true", memory_mb=512,
                     dockerfile="FROM termforge/base:bookworm\n"
                                f"RUN echo {uuid.uuid4().hex} && cat /sys/fs/cgroup/memory/memory.limit_in_bytes"
                                " > /limit\n")
    built = ensure_task_image(load_task(root))
    out = docker_ready.containers.run(built.tag, ["cat", "/limit"], remove=True, network_mode="none")
    assert int(out) == 2048 * 2**20
