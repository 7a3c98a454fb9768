"""Programmatic task families, one module per skill category (registered on import)."""
