"""Layer 4, beside coefsearch/ (neither imports the other). May import training/ and
the layers below it.

Scaling strategies compared at matched FLOPs (Table 3, Figure 8): config, strategies,
trainable, rows, summary, plots. The Python API is :func:`scalesearch.compare`
(:mod:`scalesearch.experiments`); ``scalesearch.compare`` was this package's name before 0.3
(:mod:`scalesearch.renamed`)."""
