"""Unit conversions (2.x API: the to_metric helper was removed, use convert)."""
__version__ = "2.0.0"

_TO_SI = {"mi": 1609.344, "km": 1000.0, "ft": 0.3048, "m": 1.0, "in": 0.0254, "cm": 0.01}


def convert(value, src, dst):
    return value * _TO_SI[src] / _TO_SI[dst]
