"""What applications import: load a channel's (or a version's) bundle, render, call.

::

    from promptctl.runtime import Registry

    reg = Registry("s3://acme-prompts/prod", channel="production", refresh_s=30, cache_dir="/var/cache/prompts")
    p = reg.get("support/reply")
    messages = p.render(ticket="…")           # [{"role": …, "content": …}], inputs validated
    kwargs = p.completion_kwargs(ticket="…")  # ready for litellm.completion(**kwargs)
    p.ref                                     # "support/reply@v3:3f9a2c1"
    reply = p.parse(response)                 # the JSON (output.format: json), or GuardError naming every failure
    p.check(text).ok                          # the guards' verdict, without raising

Imports only the standard library, jinja2 when a message needs it (a plain ``Hello {{ name }}``
does not), and boto3 only when an ``s3://`` URL is used; it renders with the same sandboxed
renderer as ``promptctl render``, so an application sees exactly what the CLI shows. Every bundle
is digest-verified before use; the last verified bundle can be kept on disk (``cache_dir``) and
served when the registry is unreachable; a channel that disappears is an error, never a silent
stale copy. A background thread checks the channel head at most every ``refresh_s`` seconds and
swaps whole bundles atomically: one ``get`` never mixes two versions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlparse

from .errors import IntegrityError, NotFoundError, PromptctlError, RegistryError
from .guards import GuardError, GuardResult
from .limits import RenderLimits
from .model import Prompt as PromptData
from .registry.bundle import bundle_key, bundle_prompt, decode_bundle
from .registry.channels import decode_record, head_key, record_hash, record_key, record_seqs
from .registry.stores import LocalStore, open_store
from .templates import Renderer

__all__ = ["GuardError", "GuardResult", "Prompt", "Registry", "RegistryStatus"]

_log = logging.getLogger("promptctl.runtime")


class HttpStore:
    """A registry served over plain HTTP(S) (a CDN or static host): read-only, no listing.

    It reads ``channels/<name>/HEAD.json`` for a channel's head, since HTTP cannot list.
    """

    def __init__(self, url: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s

    def read(self, key: str) -> bytes | None:
        import urllib.error
        import urllib.request  # imported here: ~20 ms that only HTTP registries pay

        target = f"{self.url}/{quote(key)}"
        request = urllib.request.Request(target, headers={"Cache-Control": "no-cache", "User-Agent": "promptctl"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - http(s) only
                return response.read()  # type: ignore[no-any-return]
        except urllib.error.HTTPError as e:
            if e.code in (403, 404):  # static hosts and S3 websites answer 403 for a missing object
                return None
            raise RegistryError(f"GET {target} answered HTTP {e.code}", hint="is the registry served there?") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RegistryError(f"cannot reach {target}: {reason}", hint="check the URL and the network") from None

    def list(self, prefix: str) -> list[str]:
        raise RegistryError("an HTTP registry cannot be listed", hint="name a channel or a version")


class _LocalReader:
    """A local registry folder, read-only: a folder that is gone counts as unreachable (like a
    dropped network mount), not as "every channel is missing"."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        self.url = store.url

    def read(self, key: str) -> bytes | None:
        if not self.store.root.is_dir():
            raise RegistryError(f"the registry folder {self.url} is missing", hint="is the volume mounted?")
        return self.store.read(key)

    def list(self, prefix: str) -> list[str]:
        return self.store.list(prefix)


def _open(url: str) -> Any:
    scheme = urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        return HttpStore(url)
    store = open_store(url)
    return _LocalReader(store) if isinstance(store, LocalStore) else store


class Prompt:
    """One prompt of a loaded bundle: render it, or get the keyword arguments for litellm."""

    __slots__ = ("_data", "_renderer", "_models", "_version", "_observer", "_channel")

    def __init__(self, data: PromptData, renderer: Renderer, models: Mapping[str, Any], version: str) -> None:
        self._data = data
        self._renderer = renderer
        self._models = models
        self._version = version
        self._observer: Any = None  # the Registry's Observer, set by Registry.get
        self._channel: str | None = None

    @property
    def name(self) -> str:
        return self._data.name

    @property
    def model(self) -> str | None:
        """The model as written in the prompt (possibly an alias of promptctl.yaml)."""
        return self._data.model

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._data.params)

    @property
    def inputs(self) -> dict[str, dict[str, Any]]:
        """Input name -> its JSON Schema (an input is required unless it has a default)."""
        return {k: dict(v) for k, v in self._data.inputs.items()}

    @property
    def version(self) -> str:
        """``v3``, or ``dev`` for a project's working tree."""
        return self._version

    @property
    def hash(self) -> str:
        return self._data.hash

    @property
    def ref(self) -> str:
        """``support/reply@v3:3f9a2c1``: what produced a result, for logs and traces."""
        return f"{self._data.name}@{self._version}:{self._data.short_hash}"

    def __repr__(self) -> str:
        return f"<promptctl.runtime.Prompt {self.ref}>"

    def render(self, **inputs: Any) -> list[dict[str, Any]]:
        """The messages for ``inputs``: validated (one InputError listing every problem), defaults applied."""
        return self._renderer.render(self._data, inputs)

    def completion_kwargs(self, **inputs: Any) -> dict[str, Any]:
        """Keyword arguments for ``litellm.completion``: model, messages, params, fallbacks, tools, response_format.

        A model alias is resolved to its model string, with its ``api_base`` and (from the environment
        variable it names) its ``api_key``; fallbacks are resolved the same way.
        """
        alias = self._alias(self._data.model)
        kwargs: dict[str, Any] = {**alias.get("params", {}), **self._data.params}
        kwargs.update(_endpoint(alias))
        kwargs["messages"] = self.render(**inputs)
        # litellm passes `metadata` to its callbacks and a LiteLLM proxy logs it: the ref travels with the call
        kwargs["metadata"] = {**(kwargs.get("metadata") or {}), "promptctl_prompt": self.name,
                              "promptctl_ref": self.ref, "promptctl_version": self._version}
        if self._data.fallbacks:
            # litellm takes a dict of completion kwargs per fallback: each keeps its own endpoint and key,
            # instead of being sent to the primary's server with the primary's key.
            kwargs["fallbacks"] = [_endpoint(self._alias(f)) for f in self._data.fallbacks]
        if self._data.tools:
            kwargs["tools"] = [dict(t) for t in self._data.tools]
        output = self._data.output
        if output.get("format") == "json":
            schema = output.get("schema")
            kwargs["response_format"] = (
                {"type": "json_schema", "json_schema": {"name": _schema_name(self.name), "schema": schema}}
                if schema
                else {"type": "json_object"}
            )
        return kwargs

    @property
    def guards(self) -> list[dict[str, Any]]:
        """The prompt's guards, as written in its file: the checks every answer must pass."""
        return [dict(g) for g in self._data.guards]

    def check(self, output: Any, *, finish_reason: str | None = None) -> GuardResult:
        """Check an answer (its text, or the chat completion response itself) against the prompt's
        output format and schema and its guards, with the same code as ``promptctl test``. Never raises
        for a bad answer: ``result.ok`` is False and ``result.failures`` says why, each failure."""
        from .guards import check_output

        return check_output(self._data, output, finish_reason=finish_reason)

    def parse(self, output: Any, *, finish_reason: str | None = None) -> Any:
        """The answer, checked: its parsed JSON for ``output.format: json``, else its text. Raises
        :class:`GuardError` naming every failure when it does not pass."""
        from .guards import output_text

        result = self.check(output, finish_reason=finish_reason)
        if not result.ok:
            raise GuardError(self.ref, result, output_text(output)[0])
        return result.data if self._data.output.get("format") == "json" else output_text(output)[0]

    def observe(
        self,
        answer: Any,
        *,
        inputs: Mapping[str, Any] | None = None,
        usage: Any = None,
        latency_ms: float | None = None,
        model: str | None = None,
        finish_reason: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> GuardResult:
        """Check ``answer`` against the guards (as :meth:`check`) and record one observation with the
        registry's observer (``Registry(observe=…)``): time, ref, channel, model, tokens, cost, latency,
        guard verdicts, the output (redacted), and the inputs only when the observer or the prompt
        (``observe: {inputs: true}``) keeps them. ``usage`` and ``model`` default to the response's
        when ``answer`` is a chat completion response. Never raises, never blocks."""
        try:
            result = self.check(answer, finish_reason=finish_reason)
        except Exception as e:  # noqa: BLE001 - observing never raises into the application
            from .guards import GuardFailure

            result = GuardResult(False, (GuardFailure("error", f"{type(e).__name__}: {e}"),))
        observer = self._observer
        if observer is None:
            return result
        try:
            from .guards import output_text
            from .observe import observation, response_parts

            text, found_reason = output_text(answer)
            found_usage, found_model = response_parts(answer)
            keep = observer.store_inputs or bool((self._data.observe or {}).get("inputs"))
            observer.submit(observation(
                prompt=self.name, ref=self.ref, version=self._version, hash=self._data.hash, channel=self._channel,
                model=model or found_model or self._resolved_model(), output=text, guards=result,
                usage=usage if usage is not None else found_usage, latency_ms=latency_ms,
                finish_reason=finish_reason or found_reason, inputs=inputs if keep and inputs is not None else None,
                extra=extra,
            ))
        except Exception as e:  # noqa: BLE001
            observer._error(e)
        return result

    def _resolved_model(self) -> str | None:
        try:
            return self._alias(self._data.model).get("model")
        except PromptctlError:
            return None

    def _alias(self, model: str | None) -> dict[str, Any]:
        if model is None:
            raise PromptctlError(f"prompt {self.name!r} names no model", hint="set `model:` or defaults.model")
        spec = self._models.get(model)
        if spec is None:
            return {"model": model}
        if isinstance(spec, str):
            return {"model": spec}
        return dict(spec)


def _endpoint(alias: Mapping[str, Any]) -> dict[str, Any]:
    """An alias as litellm is called with it: ``{"model", "api_base"?, "api_key"?}`` (the key read now)."""
    out: dict[str, Any] = {"model": alias["model"]}
    if alias.get("api_base"):
        out["api_base"] = alias["api_base"]
    if alias.get("api_key_env") and os.environ.get(alias["api_key_env"]):
        out["api_key"] = os.environ[alias["api_key_env"]]
    return out


def _schema_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]


class _Snapshot:
    """One verified bundle and the runtime prompts built from it (immutable once built)."""

    def __init__(
        self, bundle: Mapping[str, Any], raw: bytes | None, source: str, limits: RenderLimits | None = None
    ) -> None:
        self.bundle = bundle
        self.raw = raw
        self.source = source  # "registry" or "cache"
        self.version = f"v{bundle['version']}"
        self.digest: str = bundle["digest"]
        self.loaded_at = time.time()
        partials = bundle.get("partials") or {}

        def read(name: str) -> tuple[str, str]:
            if name not in partials:
                from .sandbox import PartialNotFound  # (only jinja reads partials: it is loaded)

                raise PartialNotFound(name, f"{self.version}:partials/{name}")
            return partials[name], f"{self.version}:{name}"

        self.renderer = Renderer(read, limits)
        self.models = (bundle.get("project") or {}).get("models") or {}
        self._prompts: dict[str, Prompt] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Prompt:
        prompt = self._prompts.get(name)
        if prompt is None:
            with self._lock:
                prompt = self._prompts.get(name)
                if prompt is None:
                    prompt = Prompt(bundle_prompt(self.bundle, name), self.renderer, self.models, self.version)
                    self._prompts[name] = prompt
        return prompt


class RegistryStatus(dict):  # type: ignore[type-arg]
    """``Registry.status()``: a dict with ``ok``, ``version``, ``digest``, ``source`` (registry|cache),
    ``stale``, ``stale_for_s``, ``last_check``, ``last_error`` and ``channel_missing``."""


class Registry:
    """Prompts published to a registry, as applications load them.

    ``url``: a registry folder, ``file://…``, ``s3://bucket/prefix`` or ``http(s)://…`` (a static
    host serving a registry folder). ``channel`` (default ``production``) follows a channel;
    ``version="v3"`` pins one version instead. ``refresh_s``: how often a background thread checks
    the channel head (``0`` or ``None``: never; call :meth:`refresh`). ``cache_dir``: where the last
    verified bundle is kept, and served from when the registry is unreachable. ``render_limits``: a
    :class:`~promptctl.templates.RenderLimits` bounding each render (output characters, ``range()``
    items, for-loop iterations); default ``RenderLimits()``, the limits ``promptctl render`` uses
    without a ``render:`` section in promptctl.yaml (a bundle does not carry them). ``observe``: where
    :meth:`Prompt.observe` sends observations: a path (a JSONL file), a callable, a list of them, or an
    :class:`~promptctl.observe.Observer` (sampling, inputs, OpenTelemetry, queue size).
    """

    def __init__(
        self,
        url: str | os.PathLike[str],
        channel: str = "production",
        *,
        version: str | int | None = None,
        refresh_s: float | None = 30,
        cache_dir: str | os.PathLike[str] | None = None,
        render_limits: RenderLimits | None = None,
        observe: Any = None,
    ) -> None:
        from .observe import make_observer

        self.observer = make_observer(observe)
        self.url = os.fspath(url)
        self.channel = None if version is not None else channel
        self.pinned = _version_number(version) if version is not None else None
        self.refresh_s = refresh_s
        self.cache_dir = os.fspath(cache_dir) if cache_dir is not None else None
        self.render_limits = render_limits
        self._store = _open(self.url)
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._last_check: float | None = None
        self._last_error: str | None = None
        self._stale_since: float | None = None
        self._channel_missing = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._logged_error: str | None = None
        self._cache_error: str | None = None
        self._record: dict[str, Any] | None = None
        self._project_root: str | None = None
        self._signature: tuple[Any, ...] | None = None
        self._project: Any = None
        self._load(initial=True)
        if self.channel is not None and refresh_s:
            self._thread = threading.Thread(target=self._refresh_loop, name="promptctl-refresh", daemon=True)
            self._thread.start()

    # -- loading ---------------------------------------------------------------------------------

    def _cache_path(self) -> str | None:
        if self.cache_dir is None:
            return None
        # a digest of the full URL and channel: two registries never share a cache file
        digest = hashlib.sha256(f"{self.url}\0{self._what()}".encode()).hexdigest()[:32]
        tag = "".join(c if c.isalnum() else "_" for c in self._what())[:40]
        return os.path.join(self.cache_dir, f"{tag}-{digest}.json")

    def _what(self) -> str:
        return f"channel:{self.channel}" if self.channel is not None else f"version:v{self.pinned}"

    def _fetch(self) -> tuple[dict[str, Any], bytes]:
        """The verified bundle the channel head (or the pin) names, with its bytes."""
        if self.pinned is not None:
            key = bundle_key(self.pinned)
            raw = self._store.read(key)
            if raw is None:
                raise NotFoundError(f"no version v{self.pinned} in the registry {self.url}")
            return decode_bundle(raw, key=key, version=self.pinned), raw
        assert self.channel is not None
        key = head_key(self.channel)
        head_raw = self._store.read(key)
        if head_raw is None:
            raise ChannelMissingError(
                f"channel {self.channel!r} does not exist in the registry {self.url} ({key} is missing)",
                hint="promote a version to it, or check the channel name",
            )
        mirror = decode_record(head_raw, key=key, channel=self.channel)
        head = self._find_head(mirror)
        current = self._snapshot
        if current is not None and current.digest == head["digest"]:
            self._record = head
            return dict(current.bundle), current.raw or b""
        raw = self._store.read(bundle_key(head["version"]))
        if raw is None:
            raise IntegrityError(
                f"channel {self.channel!r} points at v{head['version']}, which is missing",
                path=bundle_key(head["version"]),
                hint="run `promptctl verify`",
            )
        bundle = decode_bundle(raw, key=bundle_key(head["version"]), version=head["version"])
        if bundle["digest"] != head["digest"]:
            raise IntegrityError(
                f"channel {self.channel!r} expects digest {head['digest'][:19]}…, "
                f"but v{head['version']} has {bundle['digest'][:19]}…",
                path=key,
                hint="run `promptctl verify`",
            )
        self._record = head  # only once its bundle is verified
        return bundle, raw

    def _find_head(self, mirror: dict[str, Any]) -> dict[str, Any]:
        """The channel's head record, found from the records and not from ``HEAD.json`` alone.

        A store that can be listed (a folder, S3) decides by its highest record, as the CLI does;
        a plain HTTP store, which cannot list, probes for the record after the mirror's, so a
        stale mirror is noticed. From the record served last (or, on the first load, the one
        before the head) up to the head, every record must exist, decode, and link to the one
        before it (a repair record to its anchor, so a repaired channel is followed across the
        damaged records it skips); a head lower than the one served, a record that changed since
        it was served, a mirror that disagrees with its record, or a broken link is an
        IntegrityError (the last good bundle keeps being served).
        """
        assert self.channel is not None
        store, channel = self._store, self.channel
        raws: dict[int, bytes] = {}
        if isinstance(store, HttpStore):
            target = mirror["seq"]
            for _ in range(1000):  # a stale mirror: follow the records written after it
                raw = store.read(record_key(channel, target + 1))
                if raw is None:
                    break
                target += 1
                raws[target] = raw
        else:
            seqs = record_seqs(store, channel)
            target = max(seqs[-1] if seqs else 0, mirror["seq"])
        served = self._record
        if served is not None and target < served["seq"]:
            raise IntegrityError(
                f"channel {channel!r} moved backwards: its head is record {target}, but record {served['seq']} "
                "was served already",
                path=head_key(channel),
                hint="someone replaced or removed channel records; run `promptctl verify`",
            )
        # Walk back from the head along the links (a repair record links to its anchor, any other
        # record to the one before it) down to the record served (or, on the first load, one link).
        def read(seq: int, why: str) -> dict[str, Any]:
            rkey = record_key(channel, seq)
            raw = raws.get(seq)
            if raw is None:
                raw = store.read(rkey)
            if raw is None:
                raise IntegrityError(f"record {seq} of channel {channel!r} is missing ({why})", path=rkey,
                                     hint="run `promptctl verify`")
            return decode_record(raw, key=rkey, channel=channel, seq=seq)

        what = "HEAD.json names it" if target == mirror["seq"] else "the channel's records skip it"
        head = read(target, what)
        seen = {target: head}
        record = head
        floor = served["seq"] if served is not None else 0
        for _ in range(target):
            if record["seq"] <= floor or record["prev"] is None:
                break
            pred = record["repair"]["anchor"] if record["action"] == "repair" else record["seq"] - 1
            before = read(pred, f"record {record['seq']} links to it")
            if record["prev"] != record_hash(before):
                raise IntegrityError(f"hash chain broken: record {record['seq']} does not link to record {pred}",
                                     path=record_key(channel, record["seq"]), hint="run `promptctl verify`")
            seen[pred] = before
            record = before
            if served is None:
                break  # the first load checks one link
        if served is not None and served["seq"] in seen and seen[served["seq"]] != served:
            raise IntegrityError(f"record {served['seq']} of channel {channel!r} changed after it was served",
                                 path=record_key(channel, served["seq"]), hint="run `promptctl verify`")
        if mirror["seq"] in seen and seen[mirror["seq"]] != mirror:
            raise IntegrityError(f"HEAD.json and record {mirror['seq']} disagree: one of them is damaged",
                                 path=head_key(channel), hint="run `promptctl verify`")
        return head

    def _load(self, *, initial: bool = False) -> None:
        self._last_check = time.time()
        try:
            bundle, raw = self._fetch()
        except ChannelMissingError as e:
            self._channel_missing = True
            self._fail(e)
            raise
        except Exception as e:  # noqa: BLE001 - any failure: keep the last good bundle, say so, retry
            self._fail(e)
            if self._snapshot is None:
                cached = self._read_cache()
                if cached is None:
                    if isinstance(e, PromptctlError):
                        raise
                    raise RegistryError(f"cannot load from the registry {self.url}: {_describe(e)}") from None
                self._snapshot = cached
            return
        self._channel_missing = False
        self._last_error = None
        self._logged_error = None
        self._stale_since = None
        current = self._snapshot
        if current is None or current.digest != bundle["digest"] or current.source == "cache":
            snapshot = _Snapshot(bundle, raw, "registry", self.render_limits)
            self._snapshot = snapshot  # one reference assignment: readers see the old or the new, never a mix
            self._write_cache(raw)

    def _fail(self, e: BaseException) -> None:
        """Record a failed load in status(), logging each distinct error once (not every tick)."""
        self._last_error = _describe(e)
        if self._stale_since is None:
            self._stale_since = time.time()
        if self._last_error != self._logged_error:
            self._logged_error = self._last_error
            _log.warning("promptctl registry %s: %s (serving the last good bundle)", self.url, self._last_error)

    def _read_cache(self) -> _Snapshot | None:
        path = self._cache_path()
        if path is None:
            return None
        try:
            with open(path, "rb") as fh:
                wrapper = json.loads(fh.read())
            # the cache names its registry and channel: a file of another registry is never served
            if not isinstance(wrapper, dict) or wrapper.get("url") != self.url or wrapper.get("what") != self._what():
                return None
            raw = wrapper["bundle"].encode("utf-8")
            bundle = decode_bundle(raw, key=path, version=self.pinned)
        except Exception:  # noqa: BLE001 - a missing or damaged cache is never served
            return None
        return _Snapshot(bundle, raw, "cache", self.render_limits)

    def _write_cache(self, raw: bytes) -> None:
        path = self._cache_path()
        if path is None:
            return
        from .fileio import write_atomic

        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            data = json.dumps({"url": self.url, "what": self._what(), "bundle": raw.decode("utf-8")})
            write_atomic(path, data)
            self._cache_error = None
        except Exception as e:  # noqa: BLE001 - a cache that cannot be written never stops a good bundle
            message = f"cannot write the cache {path}: {_describe(e)}"
            if message != self._cache_error:
                _log.warning("promptctl registry %s: %s", self.url, message)
            self._cache_error = message

    def _refresh_loop(self) -> None:
        assert self.refresh_s
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - recorded in status() by _load; the thread must never die
                pass

    # -- the API ---------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Check the channel head now; swap in a new bundle if it moved. True when the version changed."""
        if self._project_root is not None:
            return self._reload_project()
        if self.pinned is not None:
            return False
        before = self._snapshot.digest if self._snapshot else None
        with self._lock:
            self._load()
        return self._snapshot is not None and self._snapshot.digest != before

    def get(self, name: str) -> Prompt:
        """Prompt ``name`` of the current bundle (NotFoundError with the closest names)."""
        if self._project_root is not None:
            self._reload_project()
        if self._channel_missing:
            raise RegistryError(self._last_error or f"channel {self.channel!r} disappeared",
                                hint="the channel was removed from the registry; nothing stale is served")
        snapshot = self._snapshot
        assert snapshot is not None
        prompt = snapshot.get(name)
        if self.observer is not None and prompt._observer is not self.observer:
            prompt._observer, prompt._channel = self.observer, self.channel
        return prompt

    def names(self) -> list[str]:
        """Every prompt name in the current bundle."""
        snapshot = self._snapshot
        assert snapshot is not None
        return sorted(snapshot.bundle.get("prompts") or {})

    @property
    def version(self) -> str:
        """The version being served (``v3``)."""
        assert self._snapshot is not None
        return self._snapshot.version

    def status(self) -> RegistryStatus:
        """How fresh the served bundle is, and why not, if it is not."""
        snapshot = self._snapshot
        now = time.time()
        return RegistryStatus(
            ok=self._last_error is None,
            url=self.url,
            channel=self.channel,
            version=snapshot.version if snapshot else None,
            digest=snapshot.digest if snapshot else None,
            source=snapshot.source if snapshot else None,
            loaded_at=snapshot.loaded_at if snapshot else None,
            last_check=self._last_check,
            last_error=self._last_error,
            stale=self._stale_since is not None,
            stale_for_s=(now - self._stale_since) if self._stale_since is not None else 0.0,
            channel_missing=self._channel_missing,
            seq=self._record["seq"] if self._record else None,
            cache_error=self._cache_error,
        )

    def close(self) -> None:
        """Stop the background refresh."""
        self._stop.set()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- local development -----------------------------------------------------------------------

    @classmethod
    def from_project(cls, path: str | os.PathLike[str] = ".", *, observe: Any = None) -> Registry:
        """Serve a project's working tree (for local development), reloading files as they change.

        This path reads the project with the CLI's loader (YAML and schemas are imported then).
        """
        from .observe import make_observer

        self = cls.__new__(cls)
        self.observer = make_observer(observe)
        self.url = os.fspath(path)
        self.channel = None
        self.pinned = None
        self.refresh_s = None
        self.cache_dir = None
        self.render_limits = None  # the project's promptctl.yaml `render:` applies
        self._lock = threading.Lock()
        self._snapshot = None
        self._last_check = None
        self._last_error = None
        self._stale_since = None
        self._channel_missing = False
        self._stop = threading.Event()
        self._thread = None
        self._logged_error = None
        self._cache_error = None
        self._record = None
        self._project_root = self.url
        self._signature = None
        self._project = None
        self._reload_project()
        return self

    def _reload_project(self) -> bool:
        from .project import open_project

        with self._lock:
            root = self._project_root
            assert root is not None
            signature = _tree_signature(root)
            if signature == self._signature and self._project is not None:
                return False
            project = open_project(root)
            self._project = project
            self._signature = signature
            self._last_check = time.time()
            self._snapshot = _ProjectSnapshot(project)  # type: ignore[assignment]
            return True


class _ProjectSnapshot:
    """A working tree served like a bundle (version ``dev``)."""

    def __init__(self, project: Any) -> None:
        self.project = project
        self.version = "dev"
        self.digest = ""
        self.source = "project"
        self.loaded_at = time.time()
        self.bundle: dict[str, Any] = {"prompts": {n: {} for n in project.prompt_names()}}
        self.models = {
            name: {"model": a.model, "api_base": a.api_base, "api_key_env": a.api_key_env, "params": dict(a.params)}
            for name, a in project.config.models.items()
        }
        self._prompts: dict[str, Prompt] = {}

    def get(self, name: str) -> Prompt:
        prompt = self._prompts.get(name)
        if prompt is None:
            prompt = Prompt(self.project.get_prompt(name), self.project.renderer, self.models, "dev")
            self._prompts[name] = prompt
        return prompt


def _tree_signature(root: str) -> tuple[Any, ...]:
    """(path, mtime, size) of every file under the project root but dot-folders: changes when a file does."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in sorted(filenames):
            p = os.path.join(dirpath, f)
            try:
                st = os.stat(p)
            except OSError:
                continue
            out.append((p, st.st_mtime_ns, st.st_size))
    return tuple(out)


def _describe(e: BaseException) -> str:
    """One line for status() and the log: promptctl errors as they are, others with their type."""
    if isinstance(e, PromptctlError):
        return str(e)
    return f"{type(e).__name__}: {str(e)[:300]}"


class ChannelMissingError(NotFoundError):
    """The registry answered, and the channel is not there."""


def _version_number(version: str | int) -> int:
    text = str(version)
    number = text[1:] if text[:1] in ("v", "V") else text
    if not number.isdigit() or int(number) < 1:
        raise NotFoundError(f"{version!r} is not a version", hint="write v3 or 3")
    return int(number)
