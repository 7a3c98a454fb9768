"""Pallas attention kernels for long context: flash attention and ring attention.

    from termforge.kernels import flash_attention, ring_attention, reference_attention
    out = flash_attention(q, k, v, causal=True, segment_ids=seg)                # one device
    out = ring_attention(q, k, v, mesh=mesh, axis_name="context", causal=True)  # sequence sharded

Layout everywhere: q [batch, len, heads, head_dim], k/v [batch, len, kv_heads, head_dim],
segment ids [batch, len] (0 = padding). This package must not import termforge.jaxtrain; the
model picks these up by name through termforge.jaxtrain.attention's registry ("flash", "ring").
"""

from termforge.kernels.flash import FlashOptions, attention_delta, flash_attention, flash_backward, flash_forward
from termforge.kernels.reference import attention_grads_from_lse, attention_with_lse, reference_attention
from termforge.kernels.ring import (from_zigzag, positions_from_segments, ring_attention, to_zigzag,
                                    zigzag_chunk_order, zigzag_indices, zigzag_positions)

__all__ = [
    "FlashOptions", "attention_delta", "attention_grads_from_lse", "attention_with_lse", "flash_attention",
    "flash_backward", "flash_forward", "from_zigzag", "positions_from_segments", "reference_attention",
    "ring_attention", "to_zigzag", "zigzag_chunk_order", "zigzag_indices", "zigzag_positions",
]
