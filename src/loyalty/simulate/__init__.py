"""Cost simulation: read a history, replay each member through the evaluator, merge
the per-member results, report. See docs/simulate.md.

`loyalty.simulate(program, history, ...)` is also the public function (loyalty/simulation.py). Importing
this package makes Python bind `loyalty.simulate` to it, in place of the function `loyalty/__init__.py`
defines, so the package is callable and calls that same function: `loyalty.simulate(...)` works before and
after any part of the simulator has been imported.
"""

import sys as _sys
import types as _types


class _CallablePackage(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        from loyalty.simulation import simulate

        return simulate(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallablePackage
