"""Observations: what each answer of a prompt did in production, for ``promptctl monitor``.

``Prompt.observe(answer, inputs=…, usage=…, latency_ms=…, model=…)`` checks the answer against the
prompt's guards (returning the :class:`~promptctl.guards.GuardResult`) and hands one observation to
the registry's :class:`Observer`:

    {"v": 1, "at": "2026-12-06T20:15:00.123Z", "prompt": "support/reply",
     "ref": "support/reply@v3:3f9a2c1", "version": "v3", "hash": "sha256:…", "channel": "production",
     "model": "openai/gpt-4o-mini", "tokens": {"input": 72, "output": 31, "total": 103},
     "cost_usd": 2.94e-05, "latency_ms": 742.0, "finish_reason": "stop", "sample": 1.0,
     "guards": {"ok": false, "failures": [{"type": "not-is-refusal", "reason": "…"}]},
     "output": "…", "inputs": null}

The observer writes observations from a background thread, to every sink it has: a JSONL file
(rotated by size), any callable, and OpenTelemetry when ``opentelemetry-api`` is installed (a span per
observation, with the GenAI semantic conventions' attributes and one ``gen_ai.evaluation.result``
event per guard). Observing never raises into the application and never blocks it: the queue is
bounded, an observation that does not fit is dropped and counted (``observer.stats()``), and a sink
that fails is counted and skipped. ``sample=0.1`` keeps one observation in ten (guards still run on
every answer). Inputs are kept only when asked (``store_inputs`` on the observer, or ``observe:
{inputs: true}`` in the prompt file); outputs and inputs have secret-shaped text (API keys, tokens,
private keys) and personal data (e-mail addresses, phone numbers) replaced, by the patterns lint uses.

Standard library only.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import random
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any, cast

#: The file sink rotates past this size: ``obs.jsonl`` → ``obs.jsonl.1`` → … ``obs.jsonl.<backups>``.
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_BACKUPS = 5
DEFAULT_QUEUE = 10_000
MAX_TEXT = 64 * 1024  # an output or input text is cut to this many characters in an observation

_TRACER_NAME = "promptctl"


# -- redaction ---------------------------------------------------------------------------------------


#: A literal every match of a kind contains: a text without it skips that pattern (most texts skip all).
_ANCHORS = {"Anthropic API key": ("sk-",), "OpenAI API key": ("sk-",), "AWS access key id": ("AKIA", "ASIA", "ABIA", "ACCA"),
            "GitHub token": ("gh", "github_pat_"), "private key": ("PRIVATE KEY",)}
_SEVEN_DIGITS = re.compile(r"(?:\d\D{0,4}){7}")


def _contains_any(anchors: tuple[str, ...]) -> Callable[[str], bool]:
    return lambda t: any(x in t for x in anchors)


def _patterns() -> list[tuple[Callable[[str], bool], re.Pattern[str], str]]:
    """(a cheap test that the pattern may match, the pattern, its replacement), in the order lint uses."""
    from .lint.security import EMAIL, PHONE, SECRETS

    out: list[tuple[Callable[[str], bool], re.Pattern[str], str]] = []
    for kind, pattern, _ in SECRETS:
        anchors = _ANCHORS.get(kind)
        out.append((_contains_any(anchors) if anchors else (lambda t: True), pattern, f"[{kind}]"))
    out.append((lambda t: "earer" in t or "EARER" in t, re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{16,}"), "Bearer [token]"))
    out.append((lambda t: "@" in t, EMAIL, "[email]"))
    out.append((lambda t: _SEVEN_DIGITS.search(t) is not None, PHONE, "[phone]"))
    return out


_REDACTIONS: list[tuple[Callable[[str], bool], re.Pattern[str], str]] | None = None


def redact_text(text: str) -> str:
    """``text`` with secret-shaped strings and personal data replaced (``[OpenAI API key]``, ``[email]``)."""
    global _REDACTIONS
    if _REDACTIONS is None:
        _REDACTIONS = _patterns()
    for may, pattern, replacement in _REDACTIONS:
        if not may(text):
            continue
        if replacement == "[email]":
            text = pattern.sub(lambda m: m.group(0) if _example(m.group(0)) else "[email]", text)
        else:
            text = pattern.sub(replacement, text)
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"


def _example(address: str) -> bool:
    from .lint.security import EXAMPLE_DOMAINS

    return EXAMPLE_DOMAINS.search(address) is not None


def redact_value(value: Any) -> Any:
    """JSON data with :func:`redact_text` applied to every string in it."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))


# -- sinks -------------------------------------------------------------------------------------------


class JsonlSink:
    """Appends each observation as one JSON line to ``path``; past ``max_bytes`` the file is rotated
    (``path.1`` … ``path.<backups>``, the oldest dropped), as logging's RotatingFileHandler does."""

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES,
                 backups: int = DEFAULT_BACKUPS) -> None:
        self.path = os.fspath(path)
        self.max_bytes = max_bytes
        self.backups = backups

    def __call__(self, observation: Mapping[str, Any]) -> None:
        self.write_many([observation])

    def write_many(self, observations: list[Mapping[str, Any]]) -> None:
        """Append a batch: whole lines, one ``write`` per batch (per file, when it rotates in between)."""
        dumps = json.dumps
        lines = [(dumps(o, ensure_ascii=False, separators=(",", ":"), default=str) + "\n").encode("utf-8")
                 for o in observations]
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = 0
            folder = os.path.dirname(self.path)
            if folder:
                os.makedirs(folder, exist_ok=True)
        chunk: list[bytes] = []
        for line in lines:
            if self.max_bytes and size + len(line) > self.max_bytes and (size or chunk):
                self._append(b"".join(chunk))
                chunk, size = [], 0
                self._rotate()
            chunk.append(line)
            size += len(line)
        self._append(b"".join(chunk))

    def _append(self, data: bytes) -> None:
        if not data:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # O_APPEND: writers never interleave lines
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def _rotate(self) -> None:
        if not os.path.exists(self.path):
            return
        if self.backups <= 0:
            os.replace(self.path, self.path + ".old")
            os.unlink(self.path + ".old")
            return
        for n in range(self.backups - 1, 0, -1):
            if os.path.exists(f"{self.path}.{n}"):
                os.replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
        os.replace(self.path, f"{self.path}.1")


class OpenTelemetrySink:
    """A span per observation (``chat <model>``), with the GenAI semantic conventions' attributes and
    one ``gen_ai.evaluation.result`` event per guard; the prompt's ref is ``promptctl.prompt.ref``.
    Uses the global tracer provider, or ``tracer_provider``."""

    def __init__(self, tracer_provider: Any = None) -> None:
        from opentelemetry import trace

        self.trace = trace
        self.tracer = (tracer_provider.get_tracer(_TRACER_NAME) if tracer_provider is not None
                       else trace.get_tracer(_TRACER_NAME))

    def __call__(self, o: Mapping[str, Any]) -> None:
        end_ns = int(o.get("_time_ns") or time.time_ns())
        latency = o.get("latency_ms")
        start_ns = end_ns - int(float(latency) * 1e6) if isinstance(latency, (int, float)) else end_ns
        model = o.get("model") or "unknown"
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": model,
            "promptctl.prompt.name": o.get("prompt") or "",
            "promptctl.prompt.ref": o.get("ref") or "",
            "promptctl.prompt.version": o.get("version") or "",
            "promptctl.guards.ok": bool((o.get("guards") or {}).get("ok", True)),
        }
        if o.get("channel"):
            attributes["promptctl.channel"] = o["channel"]
        system = model.split("/", 1)[0] if "/" in model else None
        if system:
            attributes["gen_ai.system"] = system
        tokens = o.get("tokens") or {}
        for key, name in (("input", "gen_ai.usage.input_tokens"), ("output", "gen_ai.usage.output_tokens")):
            if isinstance(tokens.get(key), int):
                attributes[name] = tokens[key]
        if o.get("finish_reason"):
            attributes["gen_ai.response.finish_reasons"] = [o["finish_reason"]]
        if isinstance(o.get("cost_usd"), (int, float)):
            attributes["promptctl.cost_usd"] = float(o["cost_usd"])
        span = self.tracer.start_span(f"chat {model}", attributes=attributes, start_time=start_ns)
        try:
            for g in (o.get("guards") or {}).get("results") or ():
                span.add_event("gen_ai.evaluation.result", attributes={
                    "gen_ai.evaluation.name": g["type"],
                    "gen_ai.evaluation.score.value": float(g["score"]),
                    "gen_ai.evaluation.score.label": "pass" if g["pass"] else "fail",
                    "gen_ai.evaluation.explanation": g.get("reason") or "",
                }, timestamp=end_ns)
            if not (o.get("guards") or {}).get("ok", True):
                span.set_status(self.trace.Status(self.trace.StatusCode.ERROR, "guard failed"))
        finally:
            span.end(end_time=end_ns)


def opentelemetry_available() -> bool:
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError:
        return False
    return True


# -- the observer ------------------------------------------------------------------------------------


def _sink(target: Any) -> Callable[[Mapping[str, Any]], None]:
    if isinstance(target, (str, os.PathLike)):
        return JsonlSink(target)
    if callable(target):
        return cast("Callable[[Mapping[str, Any]], None]", target)
    raise TypeError(f"an observation sink is a path or a callable, not {type(target).__name__}")


class Observer:
    """Takes observations without blocking and writes them to its sinks from one background thread.

    ``sinks``: paths (JSONL files, rotated by size), callables (each gets the observation dict) or
    sink objects; ``opentelemetry``: also a span per observation (default: when opentelemetry-api is
    installed and a tracer provider was set, pass True or False to decide); ``sample``: the share
    of observations kept (0-1); ``store_inputs``: keep the inputs (redacted) in every observation;
    ``queue_size``: how many may wait before new ones are dropped (and counted).
    """

    def __init__(
        self,
        *sinks: Any,
        opentelemetry: bool | None = None,
        tracer_provider: Any = None,
        sample: float = 1.0,
        store_inputs: bool = False,
        queue_size: int = DEFAULT_QUEUE,
        seed: int | None = None,
    ) -> None:
        if not 0.0 <= float(sample) <= 1.0:
            raise ValueError(f"sample must be between 0 and 1, not {sample}")
        self.sinks: list[Callable[[Mapping[str, Any]], None]] = [_sink(s) for s in sinks]
        if tracer_provider is not None or opentelemetry or (opentelemetry is None and _otel_configured()):
            self.sinks.append(OpenTelemetrySink(tracer_provider))
        self.sample = float(sample)
        self.store_inputs = store_inputs
        self._random = random.Random(seed)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max(1, queue_size))
        self._lock = threading.Lock()
        self._counts = {"observed": 0, "sampled_out": 0, "queued": 0, "written": 0, "dropped": 0, "errors": 0}
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        _LIVE.add(self)  # flushed at exit (a weak set: an observer the application drops is not kept alive)

    # -- taking observations ------------------------------------------------------------------------

    def submit(self, observation: dict[str, Any]) -> bool:
        """Queue one observation (never blocks, never raises); False when sampled out or dropped."""
        try:
            with self._lock:
                self._counts["observed"] += 1
                if self.sample < 1.0 and self._random.random() >= self.sample:
                    self._counts["sampled_out"] += 1
                    return False
            observation["sample"] = self.sample
            if self._closed:
                raise queue.Full
            self._start()
            self._queue.put_nowait(observation)
            with self._lock:
                self._counts["queued"] += 1
            return True
        except queue.Full:
            with self._lock:
                self._counts["dropped"] += 1
            return False
        except Exception as e:  # noqa: BLE001 - observing never raises into the application
            self._error(e)
            return False

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="promptctl-observer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < 256:  # what has queued up meanwhile goes out in the same write
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                items, public = [], []
                for raw in batch:
                    if raw is None:
                        continue
                    try:
                        item = finish(raw)
                        shown = {k: v for k, v in item.items() if not k.startswith("_")}
                        if isinstance(item.get("guards"), Mapping):
                            shown["guards"] = {k: v for k, v in item["guards"].items() if k != "results"}
                    except Exception as e:  # noqa: BLE001 - a record that cannot be made is counted, never raised
                        self._error(e)
                        continue
                    items.append(item)
                    public.append(shown)
                for sink in self.sinks:
                    self._write(sink, items if isinstance(sink, OpenTelemetrySink) else public)
            finally:
                for _ in batch:
                    self._queue.task_done()
            if any(raw is None for raw in batch):
                return

    def _write(self, sink: Any, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        many = getattr(sink, "write_many", None)
        try:
            if many is not None:
                many(items)
                done = len(items)
            else:
                done = 0
                for item in items:
                    try:
                        sink(item)
                        done += 1
                    except Exception as e:  # noqa: BLE001 - a failing sink is counted, the others still get it
                        self._error(e, sink)
        except Exception as e:  # noqa: BLE001
            for _ in items:
                self._error(e, sink)
            done = 0
        with self._lock:
            self._counts["written"] += done

    def _error(self, e: BaseException, sink: Any = None) -> None:
        with self._lock:
            self._counts["errors"] += 1
        where = f" in {type(sink).__name__}" if sink is not None else ""
        self.last_error = f"{type(e).__name__}{where}: {e}"

    # -- reading the state ----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counts: observed, sampled_out, queued, written (sink writes), dropped (queue full), errors."""
        with self._lock:
            out: dict[str, Any] = dict(self._counts)
        out["pending"] = self._queue.qsize()
        out["last_error"] = self.last_error
        return out

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every queued observation is written (True), or ``timeout`` seconds (False)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Flush, then stop the thread; later observations are dropped (and counted)."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass


_LIVE: weakref.WeakSet[Observer] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for observer in list(_LIVE):
        observer.close(2.0)


def _otel_configured() -> bool:
    """Whether the application set up an OpenTelemetry SDK tracer provider (not the API's no-op one)."""
    if not opentelemetry_available():
        return False
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    return type(provider).__name__ not in ("ProxyTracerProvider", "NoOpTracerProvider")


def make_observer(target: Any) -> Observer | None:
    """``Registry(observe=…)``: an Observer as it is, a path or a callable (or a list of them) wrapped in one."""
    if target is None or isinstance(target, Observer):
        return target
    if isinstance(target, (list, tuple)):
        return Observer(*target)
    return Observer(target)


def observation(
    *, prompt: str, ref: str, version: str, hash: str, channel: str | None, model: str | None,
    output: str, guards: Any, usage: Any, latency_ms: float | None,
    finish_reason: str | None, inputs: Mapping[str, Any] | None, extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What the calling thread hands over: the raw facts and the time. Everything that costs (tokens,
    price, redaction, the guard verdicts as JSON) is done by :func:`finish` in the observer's thread."""
    return {"_raw": True, "_time_ns": time.time_ns(), "prompt": prompt, "ref": ref, "version": version, "hash": hash,
            "channel": channel, "model": model, "output": output, "guards": guards, "usage": usage,
            "latency_ms": latency_ms, "finish_reason": finish_reason, "inputs": inputs, "extra": extra}


def finish(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One observation record (see the module docstring) from what :func:`observation` took, redacted."""
    if not raw.get("_raw"):
        return dict(raw)
    now_ns = raw["_time_ns"]
    model = raw["model"]
    tokens = _tokens(raw["usage"])
    cost = None
    if model and tokens:
        try:
            from .evals.prices import call_cost

            cost = call_cost(model, {"prompt_tokens": tokens.get("input") or 0, "completion_tokens": tokens.get("output") or 0})
        except Exception:  # noqa: BLE001 - no price table: no cost, never an error
            cost = None
    guards = raw["guards"]
    latency_ms = raw["latency_ms"]
    out: dict[str, Any] = {
        "v": 1,
        "at": datetime.fromtimestamp(now_ns / 1e9, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "prompt": raw["prompt"],
        "ref": raw["ref"],
        "version": raw["version"],
        "hash": raw["hash"],
        "channel": raw["channel"],
        "model": model,
        "tokens": tokens,
        "cost_usd": None if cost is None else round(cost, 12),
        "latency_ms": None if latency_ms is None else round(float(latency_ms), 1),
        "finish_reason": raw["finish_reason"],
        "sample": raw.get("sample", 1.0),
        "guards": {
            "ok": guards.ok,
            "failures": [{"type": f.type, "reason": redact_text(f.reason)} for f in guards.failures],
            "results": [{"type": r.type, "pass": r.passed, "score": round(r.score, 4), "reason": r.reason}
                        for r in guards.results],
        },
        "output": redact_text(raw["output"]),
        "inputs": None if raw["inputs"] is None else redact_value(dict(raw["inputs"])),
        "_time_ns": now_ns,
    }
    if raw.get("extra"):
        out["extra"] = redact_value(dict(raw["extra"]))
    return out


def _tokens(usage: Mapping[str, Any] | Any | None) -> dict[str, int] | None:
    """``{input, output, total}`` from an OpenAI/litellm usage (``prompt_tokens``/``completion_tokens``,
    or ``input_tokens``/``output_tokens``), a dict or an object."""
    if usage is None:
        return None
    get = usage.get if isinstance(usage, Mapping) else lambda k, d=None: getattr(usage, k, d)

    def number(*names: str) -> int | None:
        for n in names:
            v = get(n, None)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return int(v)
        return None

    found = {"input": number("prompt_tokens", "input_tokens"), "output": number("completion_tokens", "output_tokens"),
             "total": number("total_tokens")}
    if found["total"] is None and found["input"] is not None and found["output"] is not None:
        found["total"] = found["input"] + found["output"]
    return {k: v for k, v in found.items() if v is not None} or None


def response_parts(answer: Any) -> tuple[Any, str | None]:
    """The usage and the model name of a chat completion response (dict or object), when it is one."""
    if isinstance(answer, str):
        return None, None
    get = answer.get if isinstance(answer, Mapping) else lambda k, d=None: getattr(answer, k, d)
    model = get("model", None)
    return get("usage", None), model if isinstance(model, str) else None


def observation_files(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """The observation files of ``paths``: files as given, and the JSONL (and .gz) files in folders."""
    out: list[str] = []
    for path in paths:
        path = os.fspath(path)
        out += sorted(_files(path)) if os.path.isdir(path) else [path]
    return out


def read_observations(paths: Iterable[str | os.PathLike[str]]) -> Iterable[dict[str, Any]]:
    """Every observation in ``paths`` (JSONL files, gzipped ones, folders of them), skipping torn lines."""
    return read_ranges((name, 0, None) for name in observation_files(paths))


def read_ranges(ranges: Iterable[tuple[str, int, int | None]]) -> Iterable[dict[str, Any]]:
    """The observations of each (file, start, end) byte range: the lines that start in it (a torn line,
    from a writer killed mid-line, is skipped). Gzipped files are read whole."""
    import gzip

    loads = json.loads
    for name, start, end in ranges:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(name, "rb") as fh:
            if start:
                fh.seek(start - 1)
                fh.readline()  # the line that started before this range belongs to the one before
            pos = fh.tell()
            for line in fh:
                if end is not None and pos >= end:
                    break
                pos += len(line)
                if len(line) < 3:
                    continue
                try:
                    item = loads(line)
                except ValueError:
                    continue
                if isinstance(item, dict) and item.get("prompt"):
                    yield item


def _files(folder: str) -> Iterable[str]:
    for dirpath, _, names in os.walk(folder):
        for n in names:
            if ".jsonl" in n or n.endswith(".gz"):
                yield os.path.join(dirpath, n)
