"""Pallas attention kernels: flash attention and ring attention for long context."""
