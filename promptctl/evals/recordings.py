"""Recorded model responses: plain JSONL files under ``test.recordings``, meant to be committed.

One file per prompt (``support/reply.jsonl``), plus ``_graders.jsonl`` (llm-rubric and factuality
calls) and ``_embeddings.jsonl`` (``similar`` by embeddings). Each line is one record::

    {"key": "sha256:…", "kind": "chat", "prompt": "support/reply", "case": "refund",
     "request": {"model": …, "messages": […], "params": {…}, "response_format": …},
     "response": {"text": …, "model": …, "usage": {…}, "cost_usd": …, "latency_ms": …}}

The key is the SHA-256 of the canonical request: model, rendered messages, params and output schema
(for graders, their own request; for embeddings, model and text). API keys, headers and base URLs are
never part of a record. A record is appended (one ``write`` of one line) as soon as its response
arrives, so an interrupted run keeps everything it paid for; the last record of a key wins, and
after a complete run :meth:`RecordingStore.compact` rewrites each file it wrote to in key order,
without the superseded records: recording the same requests again, in any order, gives the same
file. :meth:`RecordingStore.prune` drops the records no case of the current datasets used.

Modes: ``auto`` (use a recording, else call and record), ``replay`` (never call; a miss fails the
case), ``refresh`` (always call, re-record), ``off`` (always call, record nothing).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..fileio import write_atomic
from ..model import content_hash

MODES = ("auto", "replay", "refresh", "off")
GRADERS_FILE = "_graders.jsonl"
EMBEDDINGS_FILE = "_embeddings.jsonl"


def request_key(kind: str, payload: Mapping[str, Any]) -> str:
    """The recording key of a request: ``sha256:`` over its canonical JSON and its kind."""
    return content_hash({"kind": kind, **payload})


#: Recordings files are read whole; past this size one is refused rather than read into memory.
MAX_RECORDINGS_BYTES = 512 * 1024 * 1024


def _read_recordings(path: Path) -> bytes:
    """The bytes of one recordings file: a regular file, bounded; a clear, located error otherwise."""
    from ..errors import FileFormatError, YamlError
    from ..yamlio import read_regular

    try:
        return read_regular(path, display=str(path), max_bytes=MAX_RECORDINGS_BYTES)
    except YamlError as e:
        raise FileFormatError(f"cannot read recordings: {e.message}", path=str(path), hint=e.hint) from None
    except OSError as e:
        raise FileFormatError(f"cannot read recordings: {e.strerror or e}", path=str(path),
                              hint="fix or remove the file; `promptctl test --mode refresh` records anew") from None


def prompt_file(prompt: str) -> str:
    """The recordings file of prompt ``prompt``: its name, as a path, with ``.jsonl``."""
    return f"{prompt}.jsonl"


class RecordingStore:
    """The records of one recordings folder, loaded once; new records are appended as they come."""

    def __init__(self, folder: str | os.PathLike[str], *, secrets: Sequence[str] = ()) -> None:
        self.folder = Path(folder)
        self.secrets = list(secrets)  # values never written: an answer that echoes a key is stored without it
        self._records: dict[str, dict[str, Any]] = {}
        self._files: dict[str, str] = {}  # key -> file (relative to folder) holding its newest record
        self._superseded: set[str] = set()  # files holding an older record of some key
        self._fds: dict[str, int] = {}
        self._needs_newline: set[str] = set()
        self.bad_lines: list[str] = []  # "path:line" of lines that are not records (e.g. a cut-off write)
        self.written = 0
        self.used: set[str] = set()  # the keys this run looked up and found, or recorded
        self._wrote: set[str] = set()  # files appended to
        self._load()

    def __len__(self) -> int:
        return len(self._records)

    def _load(self) -> None:
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.rglob("*.jsonl")):
            rel = path.relative_to(self.folder).as_posix()
            data = _read_recordings(path)
            if data and not data.endswith(b"\n"):
                self._needs_newline.add(rel)
            for n, line in enumerate(data.split(b"\n"), 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except (ValueError, RecursionError):  # a cut-off write, garbage, or hostile nesting
                    self.bad_lines.append(f"{path}:{n}")
                    continue
                key = record.get("key") if isinstance(record, dict) else None
                if not isinstance(key, str) or not isinstance(record.get("response"), dict):
                    self.bad_lines.append(f"{path}:{n}")
                    continue
                if key in self._records:
                    self._superseded.add(self._files[key])
                    self._superseded.add(rel)
                self._records[key] = record
                self._files[key] = rel

    def get(self, key: str) -> dict[str, Any] | None:
        """The newest record of ``key``, or None."""
        record = self._records.get(key)
        if record is not None:
            self.used.add(key)
        return record

    def put(self, key: str, record: Mapping[str, Any], *, file: str) -> None:
        """Store ``record`` under ``key`` in ``file`` (relative to the folder): appended at once."""
        if self.secrets:
            from .provider import redact

            record = json.loads(redact(json.dumps(record, ensure_ascii=False, allow_nan=False), self.secrets))
        full = {"key": key, **record}
        line = json.dumps(full, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"
        fd = self._fds.get(file)
        if fd is None:
            path = self.folder / file
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # the umask decides, as for any file
            self._fds[file] = fd
            if file in self._needs_newline:
                line = "\n" + line
                self._needs_newline.discard(file)
        os.write(fd, line.encode("utf-8"))
        if key in self._records:
            self._superseded.add(self._files[key])
            self._superseded.add(file)
        self._records[key] = full
        self._files[key] = file
        self._wrote.add(file)
        self.used.add(key)
        self.written += 1

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def compact(self) -> list[str]:
        """Rewrite (atomically) each file this run appended to, or holding superseded records: the
        newest record of each of its keys, in key order. Returns the files rewritten."""
        self.close()
        rewritten = []
        for rel in sorted(self._superseded | self._wrote):
            if (self.folder / rel).is_file():
                self._rewrite(rel, self._kept(rel))
                rewritten.append(rel)
        self._superseded.clear()
        self._wrote.clear()
        return rewritten

    def _kept(self, rel: str, keep: set[str] | None = None) -> list[str]:
        """The keys whose newest record is in file ``rel`` (and in ``keep``, when given), sorted."""
        return sorted(k for k, f in self._files.items() if f == rel and (keep is None or k in keep))

    def _rewrite(self, rel: str, keys: list[str]) -> None:
        path = self.folder / rel
        if not keys:
            path.unlink()
            return
        text = "".join(json.dumps(self._records[k], ensure_ascii=False, separators=(",", ":")) + "\n" for k in keys)
        write_atomic(path, text.encode("utf-8"), fsync=False)

    def unused(self) -> dict[str, int]:
        """``{file: records}`` no lookup or recording of this run used (unreadable lines count too)."""
        out: dict[str, int] = {}
        for key, rel in self._files.items():
            if key not in self.used:
                out[rel] = out.get(rel, 0) + 1
        for where in self.bad_lines:
            rel = Path(where.rsplit(":", 1)[0]).relative_to(self.folder).as_posix()
            out[rel] = out.get(rel, 0) + 1
        return dict(sorted(out.items()))

    def prune(self) -> dict[str, int]:
        """Drop every record this run did not use (see :meth:`unused`): each file is rewritten with
        what it keeps, in key order, or removed when it keeps nothing. Returns what was dropped."""
        self.close()
        dropped = self.unused()
        for rel in dropped:
            self._rewrite(rel, self._kept(rel, self.used))
        for key in [k for k in self._files if k not in self.used]:
            del self._files[key], self._records[key]
        self.bad_lines.clear()
        return dropped
