"""Layer 7: the ``scalesearch`` command — one module per subcommand, its flags generated from
the settings (:mod:`scalesearch.options`). May import every layer below it (the Python API,
report/, coefsearch/, comparison/, …); only the front door (``scalesearch/__init__.py``,
:mod:`scalesearch.renamed`) sits above it."""
