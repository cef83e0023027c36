"""The compiled schema checks are generated once and cached, not rebuilt in every process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promptctl import schemas

PROBE = r"""
import json, sys
from promptctl.schemas import is_valid
good = {"prompt": "p", "cases": [{"id": "a", "inputs": {"x": 1}}]}
bad = {"prompt": "p", "cases": [{"id": "a", "inputs": {"x": 1}, "nope": 1}]}
print(json.dumps({"good": is_valid(good, "dataset"), "bad": is_valid(bad, "dataset"),
                  "fastjsonschema": "fastjsonschema" in sys.modules}))
"""


def probe(cache: Path) -> dict:
    env = {**os.environ, "PROMPTCTL_CACHE_DIR": str(cache), "XDG_CACHE_HOME": str(cache / "xdg")}
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture
def fresh(monkeypatch):
    schemas._fast_check.cache_clear()
    yield
    schemas._fast_check.cache_clear()


def test_the_first_process_compiles_and_the_next_one_only_loads(tmp_path):
    cache = tmp_path / "cache"
    first = probe(cache)
    assert first == {"good": True, "bad": False, "fastjsonschema": True}
    files = sorted(p.name for p in (cache / "schemas").iterdir())
    assert len(files) == 1 and files[0].startswith("dataset.") and files[0].endswith(".check")
    again = probe(cache)
    assert again == {"good": True, "bad": False, "fastjsonschema": False}  # loaded, not generated


def test_a_damaged_cache_file_is_rebuilt_not_trusted(tmp_path):
    cache = tmp_path / "cache"
    probe(cache)
    (entry,) = (cache / "schemas").iterdir()
    for damage in (b"", b"\x00garbage", entry.read_bytes()[: len(entry.read_bytes()) // 2]):
        entry.write_bytes(damage)
        assert probe(cache) == {"good": True, "bad": False, "fastjsonschema": True}
        assert probe(cache)["fastjsonschema"] is False  # rewritten whole


def test_a_cache_that_cannot_be_written_still_validates(tmp_path, monkeypatch, fresh):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setattr(schemas, "_cache_dirs", lambda: [blocker / "x", blocker / "y"])
    assert schemas.is_valid({"prompt": "p", "cases": [{"id": "a"}]}, "dataset")
    assert not schemas.is_valid({"prompt": "p", "cases": [{"id": "a", "nope": 1}]}, "dataset")
    assert blocker.read_text() == "not a folder"


def test_the_cache_key_follows_the_schema_bytes(tmp_path, monkeypatch, fresh):
    copy = tmp_path / "schemas"
    shutil.copytree(schemas.schema_dir(), copy)
    monkeypatch.setattr(schemas, "schema_dir", lambda: copy)
    before = schemas._cache_name("dataset")
    path = copy / "dataset.schema.json"
    data = json.loads(path.read_text())
    data["description"] = data.get("description", "") + " (edited)"
    path.write_text(json.dumps(data))
    assert schemas._cache_name("dataset") != before


def test_the_cache_lives_where_promptctl_cache_dir_says(tmp_path, monkeypatch):
    monkeypatch.setenv("PROMPTCTL_CACHE_DIR", str(tmp_path / "c"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    dirs = schemas._cache_dirs()
    assert dirs[0] == tmp_path / "c" / "schemas" and dirs[1] == tmp_path / "xdg" / "promptctl" / "schemas"
    monkeypatch.delenv("PROMPTCTL_CACHE_DIR")
    assert schemas._cache_dirs()[0] == tmp_path / "xdg" / "promptctl" / "schemas"
