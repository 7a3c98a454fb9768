"""JAX training stack: the Flax NNX Qwen3 port, data pipeline, sharding, checkpoints."""
