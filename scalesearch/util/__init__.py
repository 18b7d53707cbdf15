"""Layer 0, the ground floor: what every layer may use — atomic file writes
(io), text formats (fmt), logs, run statuses, argument types, the matplotlib setup (plotting,
pareto) and the hardware probe. Imports no scalesearch module outside util/ but errors."""
