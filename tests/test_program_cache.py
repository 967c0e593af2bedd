"""The compiled-program cache (loyalty/program_cache.py): a hit is the program the compiler makes, any change to
the program's bytes or to the code is a miss, programs with errors are never kept, and a damaged, missing or
unwritable cache never changes what a command does."""

from __future__ import annotations

import io
import json
import shutil
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from loyalty import program_cache
from loyalty.runtime.program import CompiledProgram
from loyalty.simulate import run as sim_run
from loyalty.simulate.errors import InputError
from loyalty.simulate.run import ProgramLoadError, load_program

ROOT = Path(__file__).resolve().parents[1]
PROGRAMS = sorted((ROOT / "examples" / "programs").glob("*.loyalty")) + sorted(
    (ROOT / "benchmarks" / "programs").glob("*.loyalty"))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("LOYALTY_NO_CACHE", "0")
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(folder))
    return folder / "programs"


@pytest.fixture
def program(tmp_path):
    path = tmp_path / "car_wash.loyalty"
    shutil.copy(ROOT / "examples" / "programs" / "car_wash.loyalty", path)
    return path


def _compiles(monkeypatch) -> list:
    """Count the loads that go through the parser, checker and compiler."""
    calls: list = []
    real = sim_run._load_program

    def counted(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(sim_run, "_load_program", counted)
    return calls


def test_a_hit_is_the_compiled_program_without_compiling(cache, program, monkeypatch):
    compiles = _compiles(monkeypatch)
    first = load_program(str(program))
    assert len(compiles) == 1 and len(list(cache.glob("*.json"))) == 1
    second = load_program(str(program))
    assert len(compiles) == 1  # from the cache
    assert second.to_json() == first.to_json()


def test_an_edited_program_is_compiled_again(cache, program, monkeypatch):
    compiles = _compiles(monkeypatch)
    before = load_program(str(program))
    text = program.read_text(encoding="utf-8")
    program.write_text(text.replace("# Sparkle", "#  Sparkle", 1), encoding="utf-8")  # same meaning, other bytes
    assert load_program(str(program)).to_json() == before.to_json()
    assert len(compiles) == 2
    program.write_text(text.replace('program "Sparkle Car Wash"', 'program "Sparkle Car Wash 2"', 1),
                       encoding="utf-8")
    after = load_program(str(program))
    assert len(compiles) == 3
    assert after.name == "Sparkle Car Wash 2" and before.name == "Sparkle Car Wash"


def test_other_code_is_a_miss(cache, program, monkeypatch):
    compiles = _compiles(monkeypatch)
    load_program(str(program))
    monkeypatch.setattr(program_cache, "_fingerprint", program_cache.code_fingerprint() + b"\nedited")
    load_program(str(program))
    assert len(compiles) == 2


def test_the_path_is_part_of_the_key(cache, program, tmp_path, monkeypatch):
    compiles = _compiles(monkeypatch)
    load_program(str(program))
    other = tmp_path / "other.loyalty"
    shutil.copy(program, other)
    load_program(str(other))
    assert len(compiles) == 2


def test_programs_with_errors_are_never_kept(cache, tmp_path):
    bad = tmp_path / "bad.loyalty"
    bad.write_text('program "x" {\n  currency EUR\n  rule r: when purchase earn nonsense\n}\n', encoding="utf-8")
    for _ in range(2):
        with pytest.raises(ProgramLoadError) as err:
            load_program(str(bad))
        assert err.value.diagnostics
    assert not cache.exists() or not list(cache.glob("*.json"))


def test_a_damaged_entry_is_compiled_again_and_replaced(cache, program, monkeypatch):
    good = load_program(str(program))
    (entry,) = cache.glob("*.json")
    entry.write_text('{"format": "not this"', encoding="utf-8")
    compiles = _compiles(monkeypatch)
    again = load_program(str(program))
    assert len(compiles) == 1
    assert again.to_json() == good.to_json()
    assert CompiledProgram.from_json(entry.read_text(encoding="utf-8")).to_json() == good.to_json()


def test_off_writes_nothing(tmp_path, program, monkeypatch):
    monkeypatch.setenv("LOYALTY_NO_CACHE", "1")
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "cache"))
    compiles = _compiles(monkeypatch)
    load_program(str(program))
    load_program(str(program))
    assert len(compiles) == 2
    assert not (tmp_path / "cache").exists()


def test_an_unwritable_cache_is_not_used(tmp_path, program, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the folder would be", encoding="utf-8")
    monkeypatch.setenv("LOYALTY_NO_CACHE", "0")
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(blocker))
    compiles = _compiles(monkeypatch)
    first = load_program(str(program))
    second = load_program(str(program))
    assert len(compiles) == 2 and first.to_json() == second.to_json()


def test_settings_are_never_cached(cache, program, monkeypatch):
    compiles = _compiles(monkeypatch)
    load_program(str(program), {})
    load_program(str(program), {})
    assert len(compiles) == 1
    with pytest.raises(InputError):
        load_program(str(program), ["nonexistent=1"])  # an unknown parameter: still an error, never a cache hit
    assert len(compiles) == 2


def test_the_cache_keeps_a_bounded_number_of_entries(cache, tmp_path, monkeypatch):
    monkeypatch.setattr(program_cache, "KEEP", 3)
    source = (ROOT / "examples" / "programs" / "car_wash.loyalty").read_text(encoding="utf-8")
    for i in range(5):
        path = tmp_path / f"p{i}.loyalty"
        path.write_text(source, encoding="utf-8")
        load_program(str(path))
    assert len(list(cache.glob("*.json"))) == 3


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_every_shipped_program_reads_back_as_compiled(path):
    """What a hit returns is `from_json` of the stored JSON: the same document as the compiler's."""
    compiled = sim_run._load_program(str(path))
    stored = compiled.to_json(indent=None)
    assert CompiledProgram.from_json(stored).to_json() == compiled.to_json()


@pytest.mark.parametrize("name", ["car_wash", "bookstore", "coffee_stars", "member_moments"])
def test_simulate_reports_the_same_with_the_cache(cache, name, monkeypatch):
    from loyalty.cli import main

    program = str(ROOT / "examples" / "programs" / f"{name}.loyalty")
    history = str(ROOT / "examples" / "histories" / f"{name}.csv")

    def report() -> dict:
        out = io.StringIO()
        with redirect_stdout(out):
            assert main(["simulate", program, history, "--format", "json", "--jobs", "1"]) == 0
        return json.loads(out.getvalue())

    monkeypatch.setenv("LOYALTY_NO_CACHE", "1")
    compiled = report()
    monkeypatch.setenv("LOYALTY_NO_CACHE", "0")
    stored, hit = report(), report()
    assert len(list(cache.glob("*.json"))) == 1
    assert compiled == stored == hit
