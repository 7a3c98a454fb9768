"""Terminal-Task-Gen: seed-based, skill-based and LLM-based synthetic task generation.

A task is kept only once the executor proves its tests fail before and pass after the reference
solution (termforge.executor.verify).
"""

GENERATOR_VERSION = "1"
