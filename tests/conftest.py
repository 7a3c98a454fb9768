"""Suite-wide pytest options: `--runslow` runs the tests marked slow; `--demo` runs the shortened
end-to-end demo (tests marked demo), which `.ci/run` does after the fast suite."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False, help="run slow tests too")
    parser.addoption("--demo", action="store_true", default=False,
                     help="run only the shortened end-to-end demo (tests marked demo)")


def pytest_configure(config):
    config.addinivalue_line("markers", "demo: the end-to-end demo, run with --demo")


def pytest_collection_modifyitems(config, items):
    demo = config.getoption("--demo")
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow")
    skip_demo = pytest.mark.skip(reason="the end-to-end demo: run with --demo")
    skip_other = pytest.mark.skip(reason="--demo runs only the demo")
    for item in items:
        if item.get_closest_marker("demo"):  # the marker only (keywords also hold test and file names)
            if not demo:
                item.add_marker(skip_demo)
        elif demo:
            item.add_marker(skip_other)
        elif item.get_closest_marker("slow") and not config.getoption("--runslow"):
            item.add_marker(skip_slow)
