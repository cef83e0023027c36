"""A small HTTP/1.1 client on asyncio streams: JSON POSTs over kept-alive connections, one pool per origin.

What the native client needs and nothing more: ``POST`` with a body, ``Content-Length`` or chunked
answers (``gzip``/``deflate`` decoded), keep-alive connections reused up to the run's concurrency, a
fresh connection once when a kept-alive one turns out closed, TLS with the system's certificates
for ``https`` (certifi's bundle, or ``$SSL_CERT_FILE``). No redirects, no proxies, no cookies. It replaces httpx on this path because httpx
and its dependencies cost 130-180 ms of every run's start-up (import and first client) and about
half a millisecond of CPU a call; this costs a few milliseconds and a tenth of that.

Failures are :class:`HTTPFailure` with a ``kind``: ``refused`` (nothing listens), ``connect`` (DNS,
TLS, network), ``timeout``, ``closed`` (the server closed the connection mid-answer), ``protocol``
(not HTTP, or an answer too large).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlsplit

MAX_HEADER_LINES = 200
MAX_LINE = 64 * 1024


class HTTPFailure(Exception):
    def __init__(self, kind: str, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.kind = kind
        self.too_large = too_large  # a protocol failure: the answer is over max_body


class _TooLarge(ValueError):
    """An answer larger than the pool's ``max_body``."""


class Response:
    __slots__ = ("status", "headers", "content")

    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status = status
        self.headers = headers  # names lower-cased
        self.content = content


_Origin = tuple[str, str, int]


class Pool:
    """At most ``size`` requests at a time, over kept-alive connections per origin (at most ``size``
    idle ones each); use in one event loop."""

    def __init__(self, size: int = 8, *, max_body: int = 64 * 1024 * 1024, user_agent: str = "promptctl") -> None:
        self.size = max(1, size)
        self.max_body = max_body
        self.user_agent = user_agent
        self._idle: dict[_Origin, list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]] = {}
        self._tls: ssl.SSLContext | None = None
        self._slots = asyncio.Semaphore(self.size)

    def _context(self) -> ssl.SSLContext:
        """Made at the first https request (plain-http runs never load certificates): the bundle
        ``$SSL_CERT_FILE`` or ``$SSL_CERT_DIR`` names, else certifi's (as httpx and requests use it),
        else the system's."""
        if self._tls is None:
            import os

            if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
                self._tls = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or None,
                                                       capath=os.environ.get("SSL_CERT_DIR") or None)
            else:
                try:
                    import certifi
                except ImportError:
                    self._tls = ssl.create_default_context()
                else:
                    self._tls = ssl.create_default_context(cafile=certifi.where())
        return self._tls

    def _request(self, url: str, content: bytes, headers: Mapping[str, str], *,
                 encoding: str = "gzip, deflate") -> tuple[_Origin, bytes]:
        """The origin ``url`` names and the bytes of a POST of ``content`` to it."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HTTPFailure("connect", f"not an http(s) URL: {url}")
        secure = parts.scheme == "https"
        origin = (parts.scheme, parts.hostname, parts.port or (443 if secure else 80))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname and not host.startswith("["):  # an IPv6 literal
            host = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {host}", f"User-Agent: {self.user_agent}",
                 f"Accept-Encoding: {encoding}", "Connection: keep-alive", f"Content-Length: {len(content)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return origin, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content

    async def post(self, url: str, content: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        """POST ``content`` to ``url``; the whole answer within ``timeout`` seconds."""
        origin, request = self._request(url, content, headers)
        try:
            async with self._slots:  # the wait for a free connection is not part of the timeout
                return await asyncio.wait_for(self._exchange(origin, request), timeout)
        except asyncio.TimeoutError:
            raise HTTPFailure("timeout", f"no answer within {timeout:g} s") from None

    async def stream(self, url: str, content: bytes, headers: Mapping[str, str], timeout: float) -> Stream:
        """POST ``content`` to ``url`` and return as soon as the answer's head has arrived (within
        ``timeout``); its body is then read line by line (:meth:`Stream.lines`), each line within
        ``timeout``: an answer that keeps coming may take longer in all. Close the stream when done
        (``async with``); its connection is not reused."""
        origin, request = self._request(url, content, headers, encoding="identity")
        await self._slots.acquire()
        try:
            reader, writer = await asyncio.wait_for(self._open(origin), timeout)
        except asyncio.TimeoutError:
            self._slots.release()
            raise HTTPFailure("timeout", f"no connection within {timeout:g} s") from None
        except BaseException:
            self._slots.release()
            raise
        stream = Stream(self, reader, writer, timeout)
        try:
            await stream._start(request)
        except BaseException:
            await stream.aclose()
            raise
        return stream

    async def _exchange(self, origin: _Origin, request: bytes) -> Response:
        idle = self._idle.get(origin)
        while idle:  # a kept-alive connection first; one the server has closed meanwhile is dropped
            reader, writer = idle.pop()
            if reader.at_eof() or writer.is_closing():
                writer.close()
                continue
            try:
                return await self._once(origin, reader, writer, request, reused=True)
            except _Stale:
                writer.close()
        reader, writer = await self._open(origin)
        try:
            return await self._once(origin, reader, writer, request, reused=False)
        except _Stale:  # a new connection that closes before answering
            raise HTTPFailure("closed", "the server closed the connection before answering") from None

    async def _open(self, origin: _Origin) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        scheme, host, port = origin
        try:
            return await asyncio.open_connection(host, port, ssl=self._context() if scheme == "https" else None,
                                                 limit=MAX_LINE)
        except ConnectionRefusedError:
            raise HTTPFailure("refused", "connection refused") from None
        except ssl.SSLError as e:
            raise HTTPFailure("connect", f"TLS: {e.reason or e}") from None
        except OSError as e:
            raise HTTPFailure("connect", e.strerror or str(e) or type(e).__name__) from None

    async def _once(self, origin: _Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes, *, reused: bool) -> Response:
        try:
            return await self._on(origin, reader, writer, request, reused)
        except asyncio.CancelledError:  # a timeout or Ctrl-C mid-answer: this connection is not reusable
            writer.close()
            raise

    async def _on(self, origin: _Origin, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                  request: bytes, reused: bool) -> Response:
        try:
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
        except (ConnectionError, OSError) as e:
            writer.close()
            if reused:
                raise _Stale() from None
            raise HTTPFailure("closed", f"the connection failed: {e.strerror or e}") from None
        if not status_line:
            writer.close()
            raise _Stale()
        try:
            response, keep = await self._read(reader, status_line)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            writer.close()
            raise HTTPFailure("closed", "the server closed the connection mid-answer") from None
        except _TooLarge as e:
            writer.close()
            raise HTTPFailure("protocol", f"the answer is too large ({e})", too_large=True) from None
        except (ValueError, asyncio.LimitOverrunError) as e:
            writer.close()
            raise HTTPFailure("protocol", f"not an HTTP answer ({e})") from None
        if keep and len(self._idle.setdefault(origin, [])) < self.size:
            self._idle[origin].append((reader, writer))
        else:
            writer.close()
        return response

    async def _read(self, reader: asyncio.StreamReader, status_line: bytes) -> tuple[Response, bool]:
        status, headers = await _head(reader, status_line)
        keep = status_line.startswith(b"HTTP/1.1") and "close" not in headers.get("connection", "").lower()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await self._chunked(reader)
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length < 0:
                raise ValueError(f"a body of {length} bytes")
            if length > self.max_body:
                raise _TooLarge(f"a body of {length} bytes")
            body = await reader.readexactly(length)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # no length: the body runs to the end of the connection
            body = await reader.read(self.max_body + 1)
            keep = False
        if len(body) > self.max_body:
            raise _TooLarge(f"a body larger than {self.max_body} bytes")
        encoding = headers.get("content-encoding", "").lower()
        if encoding in ("gzip", "deflate"):
            import zlib

            unpack = zlib.decompressobj(wbits=31 if encoding == "gzip" else 15)
            try:
                body = unpack.decompress(body, self.max_body)  # bounded: a small bomb never fills memory
            except zlib.error as e:
                raise ValueError(f"a {encoding} body that does not decode ({e})") from None
            if unpack.unconsumed_tail:
                raise _TooLarge(f"a {encoding} body that decodes to more than {self.max_body} bytes")
        return Response(status, headers, body), keep

    async def _chunked(self, reader: asyncio.StreamReader) -> bytes:
        out = bytearray()
        while True:
            line = await reader.readline()
            if not line.endswith(b"\n"):
                raise asyncio.IncompleteReadError(line, None)
            size = int(line.split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return bytes(out)
            if len(out) + size > self.max_body:
                raise _TooLarge(f"a body larger than {self.max_body} bytes")
            out += await reader.readexactly(size)
            await reader.readexactly(2)

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for _, writer in connections:
                writer.close()
        for connections in self._idle.values():
            for _, writer in connections:
                try:
                    await writer.wait_closed()
                except (ConnectionError, OSError, ssl.SSLError):
                    pass
        self._idle.clear()


class Stream:
    """An answer being received: ``status`` and ``headers`` at once, the body as it arrives."""

    def __init__(self, pool: Pool, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> None:
        self._pool = pool
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._closed = False
        self.status = 0
        self.headers: dict[str, str] = {}

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _within(self, awaitable: Any) -> Any:
        try:
            return await asyncio.wait_for(awaitable, self._timeout)
        except asyncio.TimeoutError:
            raise HTTPFailure("timeout", f"no data within {self._timeout:g} s") from None
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            raise HTTPFailure("closed", "the server closed the connection mid-answer") from None
        except asyncio.LimitOverrunError as e:
            raise HTTPFailure("protocol", f"a line longer than {MAX_LINE} bytes ({e})") from None

    async def _start(self, request: bytes) -> None:
        try:
            self._writer.write(request)
            await self._writer.drain()
        except (ConnectionError, OSError) as e:
            raise HTTPFailure("closed", f"the connection failed: {e.strerror or e}") from None
        status_line = await self._within(self._reader.readline())
        if not status_line:
            raise HTTPFailure("closed", "the server closed the connection before answering")
        try:
            self.status, self.headers = await self._within(_head(self._reader, status_line))
        except ValueError as e:
            raise HTTPFailure("protocol", f"not an HTTP answer ({e})") from None

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive (de-chunked), at most the pool's ``max_body`` in all."""
        reader, seen, limit = self._reader, 0, self._pool.max_body
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            while True:
                line = await self._within(reader.readline())
                if not line.endswith(b"\n"):
                    raise HTTPFailure("closed", "the server closed the connection mid-answer")
                try:
                    size = int(line.split(b";", 1)[0].strip() or b"x", 16)
                except ValueError:
                    raise HTTPFailure("protocol", f"not an HTTP chunk ({line[:40]!r})") from None
                if size == 0:
                    return
                seen += size
                if seen > limit:
                    raise HTTPFailure("protocol", f"the answer is larger than {limit} bytes", too_large=True)
                data = await self._within(reader.readexactly(size))
                await self._within(reader.readexactly(2))
                yield data
        try:
            left = int(self.headers["content-length"]) if "content-length" in self.headers else None
        except ValueError:
            raise HTTPFailure("protocol", f"a Content-Length of {self.headers['content-length'][:20]!r}") from None
        if left is not None and left > limit:
            raise HTTPFailure("protocol", f"the answer is larger than {limit} bytes", too_large=True)
        while left is None or left > 0:
            data = await self._within(reader.read(min(left if left is not None else 65536, 65536)))
            if not data:
                if left:
                    raise HTTPFailure("closed", "the server closed the connection mid-answer")
                return
            seen += len(data)
            if seen > limit:
                raise HTTPFailure("protocol", f"the answer is larger than {limit} bytes", too_large=True)
            if left is not None:
                left -= len(data)
            yield data

    async def lines(self) -> AsyncIterator[bytes]:
        """The body's lines as they arrive, without their line ends (a last line without one too)."""
        pending = b""
        async for data in self.chunks():
            pending += data
            *done, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE:
                raise HTTPFailure("protocol", f"a line longer than {MAX_LINE} bytes")
            for line in done:
                yield line.rstrip(b"\r")
        if pending:
            yield pending.rstrip(b"\r")

    async def read(self) -> bytes:
        """The rest of the body (an error answer's)."""
        return b"".join([data async for data in self.chunks()])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.close()
            self._pool._slots.release()


async def _head(reader: asyncio.StreamReader, status_line: bytes) -> tuple[int, dict[str, str]]:
    """The status and the headers (names lower-cased) of an answer whose status line was read."""
    parts = status_line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise ValueError(f"status line {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for _ in range(MAX_HEADER_LINES):
        line = await reader.readline()
        if not line.endswith(b"\n"):
            raise asyncio.IncompleteReadError(line, None)
        if line in (b"\r\n", b"\n"):
            return int(parts[1]), headers
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep:
            raise ValueError(f"header line {line[:80]!r}")
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    raise ValueError("too many header lines")


class _Stale(Exception):
    """A kept-alive connection that the server had closed: try again on a new one."""

