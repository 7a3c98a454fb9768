"""Connecting to the Docker daemon, with one clear error when it is not there."""

from __future__ import annotations

import functools

import docker
import docker.errors

from termforge.errors import DockerUnavailableError


@functools.lru_cache(maxsize=1)
def client() -> docker.DockerClient:
    """A Docker client for the daemon of the environment (DOCKER_HOST or the local socket).

    Raises DockerUnavailableError with a fix when the daemon cannot be reached.
    """
    try:
        c = docker.from_env(timeout=300)
        c.ping()
    except (docker.errors.DockerException, OSError) as exc:
        reason = str(exc).split("\n")[0]
        raise DockerUnavailableError(
            "cannot reach the Docker daemon "
            f"({reason}); start it (e.g. `setsid dockerd >/tmp/dockerd.log 2>&1 &`) "
            "or set DOCKER_HOST, then check with `termforge doctor`"
        ) from None
    return c


def reset_client() -> None:
    """Forget the cached client (after the daemon was restarted)."""
    client.cache_clear()
