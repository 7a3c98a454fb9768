"""Evaluation of terminal agents on Terminal-Bench-2.0-format tasks."""
