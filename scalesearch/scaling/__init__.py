"""Layer 1, beside data/ (neither imports the other): the network as data and
its compound scaling (Tan & Le, EfficientNet §3.3) — stage tables (arch), blocks and their
registry (blocks), building (builder), baselines (scalable, registry), d·w·r multipliers
(scaler), counting (counter), resolution matching (matching), the scaled network (scaled), its
checkpoint, and the paper's tables. May import util/ and errors."""
