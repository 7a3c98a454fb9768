"""termforge: verified synthetic terminal tasks, agent trajectories and JAX training of terminal agents."""

__version__ = "0.1.0"
