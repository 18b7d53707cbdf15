"""Layer 4, beside comparison/ (neither imports the other). May import training/ and
the layers below it.

The φ=1 coefficient search (the paper's small grid search for α, β, γ): its config,
candidate space, Ray Tune runner, synchronous halving, evidence and reports. The Python API
is :func:`scalesearch.search` (:mod:`scalesearch.experiments`); ``scalesearch.search`` was
this package's name before 0.3 (:mod:`scalesearch.renamed`)."""
