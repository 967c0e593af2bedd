"""No module of the package can run text from a user's file as code.

An AST scan of src/loyalty, so a regression fails CI: no eval/exec/compile, no
pickle/marshal/shelve loads, no os.system/popen/exec*, no subprocess, no unsafe YAML.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "loyalty"
SOURCES = sorted(SRC.rglob("*.py"))

FORBIDDEN_CALLS = {"eval", "exec", "compile", "__import__", "breakpoint"}
FORBIDDEN_MODULES = {"pickle", "cPickle", "marshal", "shelve", "subprocess", "dill", "cloudpickle", "pty", "code", "codeop"}
FORBIDDEN_ATTRIBUTES = {
    ("os", "system"), ("os", "popen"), ("os", "execv"), ("os", "execve"), ("os", "execvp"), ("os", "execl"),
    ("os", "execlp"), ("os", "spawnv"), ("os", "spawnl"), ("os", "posix_spawn"), ("os", "startfile"),
    ("yaml", "load"), ("yaml", "unsafe_load"), ("yaml", "full_load"), ("yaml", "load_all"), ("yaml", "unsafe_load_all"),
    ("importlib", "import_module"), ("builtins", "eval"), ("builtins", "exec"),
}


# Reviewed uses: the module name comes from a fixed table in the same file (lazy imports), or (the mechanics
# package) from the package's own directory listing, pkgutil.iter_modules(__path__): never from user text.
REVIEWED = {("__init__.py", "importlib.import_module"), ("cli.py", "importlib.import_module"),
            ("runtime/mechanics/__init__.py", "importlib.import_module")}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _safe_loaders(tree: ast.AST) -> set[str]:
    """yaml's safe loaders, and the classes of this module derived from one."""
    safe = set(SAFE_YAML_LOADERS)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and any(_name(b) in SAFE_YAML_LOADERS for b in node.bases):
            safe.add(node.name)
    return safe


def _is_safe_yaml_load(call: ast.Call, safe: set[str]) -> bool:
    loader = next((k.value for k in call.keywords if k.arg == "Loader"), None)
    if loader is None and len(call.args) >= 2:
        loader = call.args[1]
    return loader is not None and _name(loader) in safe


def problems_in(source: str, name: str = "<test>") -> list[str]:
    tree = ast.parse(source, name)
    safe_loaders = _safe_loaders(tree)
    safe_calls = {
        id(node.func)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and _name(node.func) in ("load", "load_all") and _is_safe_yaml_load(node, safe_loaders)
    }
    found = []
    for node in ast.walk(tree):
        where = f"{name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = (node.module or "").split(".")[0]
            if module in FORBIDDEN_MODULES:
                found.append(f"{where}: from {node.module} import ...")
            found += [
                f"{where}: from {node.module} import {a.name}"
                for a in node.names
                if (module, a.name) in FORBIDDEN_ATTRIBUTES or (module == "builtins" and a.name in FORBIDDEN_CALLS)
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in FORBIDDEN_CALLS:
                found.append(f"{where}: {func.id}()")
            if isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2:
                arg = node.args[1]
                if isinstance(arg, ast.Constant) and arg.value in FORBIDDEN_CALLS | {"system", "popen"}:
                    found.append(f"{where}: getattr(..., {arg.value!r})")
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in FORBIDDEN_ATTRIBUTES and id(node) not in safe_calls:
                if (name, f"{node.value.id}.{node.attr}") in REVIEWED:
                    continue
                found.append(f"{where}: {node.value.id}.{node.attr}")
    return found


def test_the_scan_finds_every_kind_of_code_execution():
    # the scanner must catch what it is for, or the real test below proves nothing
    for snippet in [
        "eval(text)", "exec(text)", "compile(text, 'f', 'exec')", "__import__(name)",
        "import pickle", "from pickle import loads", "import marshal", "import subprocess",
        "from subprocess import run", "import os\nos.system(cmd)", "import os\nos.popen(cmd)",
        "import yaml\nyaml.load(f)", "import yaml\nyaml.unsafe_load(f)", "f = getattr(builtins, 'eval')",
        "from builtins import exec", "import importlib\nimportlib.import_module(name)",
        "yaml.load(f, Loader=yaml.Loader)", "class L(yaml.Loader): pass\nyaml.load(f, Loader=L)",
    ]:
        assert problems_in(snippet), snippet
    for harmless in [
        "re.compile(pattern)", "yaml.safe_load(f)", "yaml.load(f, Loader=yaml.SafeLoader)",
        "class L(yaml.SafeLoader): pass\nyaml.load(f, Loader=L)", "ast.literal_eval", "os.replace(a, b)", "x.eval()"]:
        assert problems_in(harmless) == [], harmless


def test_the_package_has_sources_to_scan():
    assert len(SOURCES) >= 10 and SRC / "syntax" / "parser.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_can_run_user_text_as_code(path):
    assert problems_in(path.read_text(encoding="utf-8"), str(path.relative_to(SRC))) == []
