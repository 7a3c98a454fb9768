from tests.executor.conftest import docker_ready  # noqa: F401  (shared fixture)
