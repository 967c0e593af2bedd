"""The optional compiled build of `program.apply`'s path (docs/performance.md, "A compiled apply path").

`LOYALTY_COMPILE=1 pip install .` (or `pip wheel .`) compiles the modules in COMPILED with mypyc, from the same
source, and puts the extension modules into the wheel beside their .py files (Python imports the extension
first). Without LOYALTY_COMPILE=1, and always for an editable install, the build is the pure-Python package, so
no compiler is needed and a contributor's edits are never shadowed by a stale compiled module: the compiler
writes only into a temporary directory, never into src/. `loyalty.compiled()` says which build runs.

hatchling runs this file as the wheel target's build hook (pyproject.toml); run as a script it is the
setuptools call that mypyc's documented `mypycify` build needs (the hook starts it in the temporary directory).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

# The apply path: the event read, the state, the plan and the scalar steps it calls on a purchase. Compiled
# together, so that calls and attribute reads between them are native (one compiled module alone can be slower:
# its interpreted readers lose 3.11's specialised slot reads).
COMPILED = [
    "loyalty/runtime/fastevents.py",
    "loyalty/runtime/state.py",
    "loyalty/runtime/plan.py",
    "loyalty/runtime/formulas.py",
    "loyalty/runtime/mechanics/earn.py",
    "loyalty/runtime/mechanics/punch.py",
    "loyalty/runtime/mechanics/context.py",
]
# What the compiler needs at build time only (the wheel does not depend on them). The mypy pin is the one in
# the dev extra: its mypyc is the one the source was checked with.
BUILD_REQUIRES = ["mypy==2.4.1", "setuptools>=65"]
# The package's other modules stay untyped to mypy here; only type errors that would make wrong native code
# stop the build.
MYPY_ARGS = ["--follow-imports=silent", "--ignore-missing-imports", "--disable-error-code=annotation-unchecked"]


def wanted() -> bool:
    return os.environ.get("LOYALTY_COMPILE", "") == "1"


def _compile(src: Path, work: Path) -> Path:
    """Compile COMPILED from `src` (the directory holding the package) under `work`; the directory of the built
    extension modules, laid out as they install."""
    lib = work / "lib"
    cmd = [sys.executable, str(Path(__file__).resolve()), "build_ext", "--build-lib", str(lib),
           "--build-temp", str(work / "tmp")]
    env = {**os.environ, "LOYALTY_COMPILE_WORK": str(work)}
    done = subprocess.run(cmd, cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode:
        raise RuntimeError(f"LOYALTY_COMPILE=1: mypyc could not build the apply path:\n{done.stdout}")
    return lib


try:
    from hatchling.builders.hooks.plugin.interface import BuildHookInterface
except ImportError:  # run as the setuptools script, in an environment without hatchling
    BuildHookInterface = object  # type: ignore[misc,assignment]


class CompiledApplyHook(BuildHookInterface):  # type: ignore[misc,valid-type]
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return list(BUILD_REQUIRES) if wanted() else []

    def initialize(self, version: str, build_data: dict) -> None:
        if version == "editable" or not wanted():
            return
        self._work = Path(tempfile.mkdtemp(prefix="loyalty-compile-"))
        lib = _compile(Path(self.root) / "src", self._work)
        suffix = sysconfig.get_config_var("EXT_SUFFIX")
        built = sorted(lib.rglob(f"*{suffix}"))
        if len(built) != len(COMPILED) + 1:  # one per module, and mypyc's shared library of the group
            raise RuntimeError(f"LOYALTY_COMPILE=1: expected {len(COMPILED) + 1} extension modules, got {built}")
        for path in built:
            build_data["force_include"][str(path)] = path.relative_to(lib).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":  # the hook's compiler step: `python hatch_build.py build_ext ...`, run in src/
    from mypyc.build import mypycify
    from setuptools import setup

    work = os.environ["LOYALTY_COMPILE_WORK"]
    setup(name="loyalty-compiled-apply",
          ext_modules=mypycify([*MYPY_ARGS, f"--cache-dir={work}/mypy-cache", *COMPILED], opt_level="3",
                               target_dir=f"{work}/c"))
