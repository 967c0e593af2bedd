"""A plain `pip install` of the wheel works as README and --help promise: the wheel carries the LICENSE, the
py.typed marker, the grammar and the examples; in a fresh virtual environment outside the repository,
`loyalty examples` copies the examples and every --help example that names them runs and exits 0.

The wheel is built from this checkout (pip wheel, about 3 s); its dependencies come from the environment
running the tests (a .pth line), so nothing is downloaded but the build backend."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
COMMANDS = ("check", "fmt", "test", "compile", "simulate", "compare", "explain", "generate")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
                           capture_output=True, text=True, timeout=600)
    if build.returncode and "hatchling" in build.stderr and ("No matching distribution" in build.stderr
                                                             or "Could not find" in build.stderr):
        pytest.skip("the build backend (hatchling) cannot be downloaded here")
    assert build.returncode == 0, build.stderr
    (found,) = out.glob("loyalty_lang-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> dict:
    """A fresh venv holding the wheel; the environment (PATH, no PYTHONPATH) to run its `loyalty` in."""
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the dependencies (click, lark, pyarrow...) from the environment running the tests, after the venv's own
    # site-packages: the venv's loyalty (the wheel's) comes first
    # the wheel first: with the dependencies' path in place, pip would find the distribution installed there
    # (CI installs the checkout as loyalty-lang) and install nothing
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--quiet", "--no-deps", str(wheel)],
                   check=True, timeout=300, capture_output=True)
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz_test_dependencies.pth").write_text("\n".join(sorted(deps)) + "\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "COLUMNS", "FORCE_COLOR")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    where = subprocess.run(["loyalty", "examples", "--path"], env=env, capture_output=True, text=True, cwd=root)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), "the test must run the installed wheel, not the checkout"
    return {"env": env, "root": root}


def test_the_wheel_ships_license_marker_grammar_and_examples(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "loyalty/py.typed" in names and "loyalty/loyalty.lark" in names
    assert "loyalty/examples/programs/car_wash.loyalty" in names
    assert "loyalty/examples/histories/car_wash.csv" in names
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "Name: loyalty-lang" in metadata and "License :: OSI Approved :: MIT License" in metadata


def help_examples(env: dict, cwd: Path) -> list[str]:
    """The example command lines of `loyalty --help` and of each command's --help that use the shipped
    examples (the others name the user's own files: shop.loyalty, sales.csv)."""
    lines = []
    for args in [[], *[[c] for c in COMMANDS]]:
        text = subprocess.run(["loyalty", *args, "--help"], env=env, capture_output=True, text=True, cwd=cwd,
                              check=True).stdout
        for line in text.splitlines():
            line = re.split(r"\s{2,}", line.strip())[0]  # an example's description follows after spaces
            if line.startswith("loyalty ") and "examples/" in line:
                files = re.findall(r"\S+\.(?:loyalty|csv|yaml|json|parquet)\b", line)
                if all(f.startswith("examples/") or f.startswith("-o") for f in files):
                    lines.append(line)
    return lines


def test_help_examples_run_after_a_plain_install(installed, tmp_path):
    env = installed["env"]
    copy = subprocess.run(["loyalty", "examples"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert copy.returncode == 0, copy.stderr
    assert (tmp_path / "examples" / "programs" / "car_wash.test.yaml").is_file()
    examples = help_examples(env, tmp_path)
    assert len(examples) >= 6, examples
    for line in examples:
        run = subprocess.run(["bash", "-c", line + " > /dev/null"], env=env, capture_output=True, text=True,
                             cwd=tmp_path, timeout=300)
        assert run.returncode == 0, f"{line}\n{run.stderr}"


def test_loyalty_examples_refuses_to_overwrite(installed, tmp_path):
    env = installed["env"]
    (tmp_path / "examples").mkdir()
    run = subprocess.run(["loyalty", "examples"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2 and "exists already" in run.stderr
