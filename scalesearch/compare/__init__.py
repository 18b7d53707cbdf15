"""The compare subpackage; the package is also callable: ``scalesearch.compare(...)`` runs
:func:`scalesearch.experiments.compare` (the Python API of ``scalesearch compare``)."""

import sys
import types


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        from scalesearch.experiments import compare

        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
