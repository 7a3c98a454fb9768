"""Imperial to metric conversions (1.x API)."""
__version__ = "1.4.0"

FACTORS = {"mi": ("km", 1.609344), "ft": ("m", 0.3048), "lb": ("kg", 0.45359237),
           "in": ("cm", 2.54), "gal": ("l", 3.785411784)}


def to_metric(value, unit):
    """(converted value, metric unit) for a value in an imperial unit."""
    target, factor = FACTORS[unit]
    return value * factor, target
