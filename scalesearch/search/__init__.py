"""The search subpackage; the package is also callable: ``scalesearch.search(...)`` runs
:func:`scalesearch.experiments.search` (the Python API of ``scalesearch search``)."""

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from scalesearch.experiments import search

        return search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
