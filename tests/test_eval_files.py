"""What `promptctl test` writes: -o never replaces a device, FIFO, symlink or folder; files get the umask's mode."""

from __future__ import annotations

import json
import os
import threading

from promptctl.scaffold import init_project


def _demo(tmp_path):
    demo = tmp_path / "demo"
    init_project(demo)
    return demo


def test_o_writes_through_a_symlink_and_keeps_it(tmp_path, cli):
    demo = _demo(tmp_path)
    real = tmp_path / "real.json"
    real.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(real)
    r = cli(["test", "--mode", "replay", "--format", "json", "-o", str(link)], cwd=demo)
    assert r.code == 0, r.err
    assert link.is_symlink() and json.loads(real.read_text())["ok"] is True


def test_o_writes_into_a_fifo_and_keeps_it(tmp_path, cli):
    demo = _demo(tmp_path)
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()), daemon=True)
    reader.start()
    r = cli(["test", "--mode", "replay", "--format", "json", "-o", str(fifo)], cwd=demo)
    reader.join(10)
    assert r.code == 0, r.err
    assert fifo.is_fifo() and json.loads(got[0])["ok"] is True


def test_o_to_a_folder_is_a_usage_error(tmp_path, cli):
    demo = _demo(tmp_path)
    folder = tmp_path / "out"
    folder.mkdir()
    r = cli(["test", "--mode", "replay", "--format", "json", "-o", str(folder)], cwd=demo)
    assert r.code == 2 and "is a folder" in r.err and "Traceback" not in r.err
    assert list(folder.iterdir()) == []


def test_reports_and_atomic_rewrites_get_the_umask_mode(tmp_path, cli):
    demo = _demo(tmp_path)
    old = os.umask(0o022)
    try:
        r = cli(["test", "--mode", "replay", "--format", "junit", "-o", str(tmp_path / "r.xml")], cwd=demo)
        assert r.code == 0, r.err
        report_mode = (tmp_path / "r.xml").stat().st_mode & 0o777
        from promptctl.fileio import write_atomic

        write_atomic(tmp_path / "x.jsonl", b"{}\n")  # what recording compaction and golden rewrites call
        atomic_mode = (tmp_path / "x.jsonl").stat().st_mode & 0o777
    finally:
        os.umask(old)
    assert report_mode == 0o644 and atomic_mode == 0o644


def test_bad_recordings_files_are_located_errors_or_skipped_lines(tmp_path, cli):
    demo = _demo(tmp_path)
    rec = demo / ".promptctl/recordings"
    (rec / "summarize.jsonl").write_bytes(
        (rec / "summarize.jsonl").read_bytes() + b"\xff\xfe garbage\n" + b"[" * 100_000 + b"\n")
    r = cli(["test", "--mode", "replay"], cwd=demo)
    assert r.code == 0, r.err  # the good records still replay; the bad lines are skipped
    (rec / "broken.jsonl").mkdir()
    r = cli(["test", "--mode", "replay"], cwd=demo)
    assert r.code == 2 and "broken.jsonl" in r.err and "cannot read recordings" in r.err
    (rec / "broken.jsonl").rmdir()
    os.mkfifo(rec / "pipe.jsonl")
    r = cli(["test", "--mode", "replay"], cwd=demo)
    assert r.code == 2 and "not a regular file" in r.err
