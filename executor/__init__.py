"""Docker sandbox for terminal tasks: task format, images, limits, terminal sessions, trials, verification."""
