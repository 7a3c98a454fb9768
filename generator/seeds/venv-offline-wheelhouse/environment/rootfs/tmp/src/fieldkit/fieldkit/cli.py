"""fieldkit --version | fieldkit convert VALUE UNIT"""
import sys

from unitconv import to_metric  # written against unitconv 1.x

from . import __version__


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--version"]:
        print(f"fieldkit {__version__}")
        return 0
    if len(argv) == 3 and argv[0] == "convert":
        value, unit = to_metric(float(argv[1]), argv[2])
        print(f"{value:.3f} {unit}")
        return 0
    print(__doc__, file=sys.stderr)
    return 2
