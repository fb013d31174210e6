"""Hostile YAML files: every one is a clean TargetError (exit 2), quickly and in bounded memory."""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaosgate.cli import app
from chaosgate.exceptions import TargetError
from chaosgate.slo.catalog import CatalogError, load_catalog
from chaosgate.targets import load_target
from chaosgate.targets._reader import read_yaml
from chaosgate.targets._safe_yaml import (
    MAX_ALIASES,
    MAX_FILE_BYTES,
    MAX_NODES,
    read_document,
)

ROOT = Path(__file__).resolve().parents[2]


def billion_laughs() -> str:
    """The classic alias bomb: 9 levels of 9 aliases, 9**9 strings once expanded."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghi"
    for prev, name in itertools.pairwise(names):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


HOSTILE = {
    "bomb": billion_laughs(),
    "self_anchor": "name: &n [*n]\n",
    "self_anchor_map": "name: &n {a: *n}\n",
    "nested": "[" * 50_000,
    "nested_maps": "a: {" * 5_000,
    "long_name": "apiVersion: chaosgate/v1\nkind: Target\nname: " + "x" * 2_000_000 + "\n",
    "long_value": "apiVersion: chaosgate/v1\nkind: Target\nname: " + "x" * 100_000 + "\n",
    "many_aliases": "a: &a 1\nb: [" + ",".join(["*a"] * (MAX_ALIASES + 1)) + "]\n",
    "merge_bomb": "a: &a {x: 1}\n" + "".join(
        f"{n}: &{n} {{<<: [{', '.join([f'*{p}'] * 10)}]}}\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)),
    "huge_int": "n: " + "9" * 5000 + "\n",
    "bad_date": "d: 2001-13-45\n",
    "complex_key": "a: &a [1, 2]\n? *a\n: x\n",
}


def test_the_bomb_is_small() -> None:
    assert len(billion_laughs()) < 400


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_read_yaml_refuses_hostile_text(name: str) -> None:
    with pytest.raises(TargetError) as info:
        read_yaml(HOSTILE[name], "t.yaml")
    assert info.value.exit_code == 2
    assert "Traceback" not in str(info.value)
    assert len(str(info.value)) < 500


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_load_target_refuses_hostile_files(name: str, tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(HOSTILE[name], encoding="utf-8")
    with pytest.raises(TargetError) as info:
        load_target(path)
    assert info.value.exit_code == 2
    assert str(path) in str(info.value)


def test_messages_name_the_problem_and_fix() -> None:
    with pytest.raises(TargetError, match=r"aliases are limited to 100 per file: write"):
        read_yaml(HOSTILE["many_aliases"], "t.yaml")
    with pytest.raises(TargetError, match=r"line 1: a YAML anchor \(&name\) is used inside"):
        read_yaml(HOSTILE["self_anchor"], "t.yaml")
    with pytest.raises(TargetError, match="nested too deeply"):
        read_yaml(HOSTILE["nested"], "t.yaml")
    with pytest.raises(TargetError, match=f"more than {MAX_NODES} values"):
        read_yaml(HOSTILE["bomb"], "t.yaml")
    with pytest.raises(TargetError, match="larger than 1024 KiB"):  # a 2 MB name
        read_yaml(HOSTILE["long_name"], "t.yaml")
    with pytest.raises(TargetError, match="line 3: a value longer than 64 KiB"):
        read_yaml(HOSTILE["long_value"], "t.yaml")


def test_aliases_within_the_limits_still_work() -> None:
    text = "base: &b {x: 1, y: [1, 2]}\nmerged: {<<: *b, z: 3}\nsame: *b\n"
    data, lines = read_yaml(text, "t.yaml")
    assert data == {"base": {"x": 1, "y": [1, 2]}, "merged": {"x": 1, "y": [1, 2], "z": 3},
                    "same": {"x": 1, "y": [1, 2]}}
    assert lines["merged.z"] == 2


def test_nul_byte(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_bytes(b"apiVersion: chaosgate/v1\nkind: Tar\0get\n")
    with pytest.raises(TargetError, match="line 2: a NUL byte"):
        read_document(path)
    with pytest.raises(TargetError, match="line 2: a NUL byte"):
        load_target(path)


def test_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(TargetError, match="line 1: not UTF-8 text") as info:
        load_target(path)
    assert info.value.fix == "save the file as UTF-8"


def test_fifo_returns_at_once(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    os.mkfifo(path)
    with pytest.raises(TargetError, match="a FIFO"):
        load_target(path)
    with pytest.raises(CatalogError, match="a FIFO"):
        load_catalog(path)
    with pytest.raises(CatalogError, match="a FIFO"):
        load_catalog(tmp_path)  # a FIFO named *.yaml inside a catalogue folder


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="is a folder, not a file"):
        load_target(tmp_path)


def test_missing_file_keeps_its_fix(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"file not found.*targets/sandbox\.yaml"):
        load_target(tmp_path / "nope.yaml")


def test_oversize_file(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("# x\n" * (MAX_FILE_BYTES // 4 + 1), encoding="utf-8")
    with pytest.raises(TargetError, match="larger than 1024 KiB"):
        read_document(path)
    with pytest.raises(CatalogError, match="larger than 1024 KiB"):
        load_catalog(path)


def test_catalogue_bomb_is_a_catalog_error(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    with pytest.raises(CatalogError, match="values once its YAML aliases"):
        load_catalog(path)


def test_openslo_documents_share_one_budget(tmp_path: Path) -> None:
    doc = "apiVersion: openslo/v1\nkind: Service\nx: &a 1\ny: [" + ",".join(["*a"] * 60) + "]\n"
    path = tmp_path / "slo.yaml"
    path.write_text(doc + "---\n" + doc, encoding="utf-8")
    with pytest.raises(CatalogError, match="aliases are limited to 100 per file"):
        load_catalog(path)


@pytest.mark.parametrize("name", ["bomb", "self_anchor", "nested", "long_name", "long_value"])
def test_validate_exits_2_without_a_traceback(name: str, tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(HOSTILE[name], encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert str(path) in result.output


@pytest.mark.parametrize("content", [b"a: \0", b"\xff\xfe", None])
def test_validate_exits_2_for_bad_files(content: bytes | None, tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    if content is None:
        os.mkfifo(path)
    else:
        path.write_bytes(content)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_bomb_through_validate_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "target.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-m", "chaosgate.cli", "validate", str(path)],
                          capture_output=True, text=True, timeout=20, env=env,
                          preexec_fn=_limit_memory, check=False)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "YAML aliases" in proc.stdout + proc.stderr


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", errors="replace"))))
def test_arbitrary_text_raises_only_target_error(text: str) -> None:
    with contextlib.suppress(TargetError):
        read_yaml(text, "t.yaml")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="[]{}&*ab:,- \n!<>?'\"#|", max_size=200))
def test_yaml_punctuation_raises_only_target_error(text: str) -> None:
    with contextlib.suppress(TargetError):
        read_yaml(text, "t.yaml")
