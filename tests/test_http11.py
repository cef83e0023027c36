"""promptctl's HTTP/1.1 client (promptctl/evals/http11.py) against real sockets on 127.0.0.1: answers
with Content-Length, chunked, gzip, none (to the end of the connection); kept-alive connections
reused, a stale one replaced; limits; TLS with a self-signed certificate (openssl makes it)."""

from __future__ import annotations

import asyncio
import gzip
import json
import shutil
import socket
import ssl
import subprocess
import threading

import pytest

from promptctl.evals.http11 import HTTPFailure, Pool


class RawServer:
    """A TCP server on 127.0.0.1 answering each request with ``reply(n)`` (raw bytes, n counts
    requests); ``close_after`` closes each connection after that many answers."""

    def __init__(self, reply, close_after=None, tls=None):
        self.reply, self.close_after, self.tls = reply, close_after, tls
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.requests, self.connections = [], 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    conn.close()
                    continue
            self.connections += 1
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn):
        served = 0
        buf = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buf += data
                head, _, rest = buf.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")), b"0"))
                while len(rest) < length:
                    rest += conn.recv(65536)
                self.requests.append((head.decode(), rest[:length]))
                buf = rest[length:]
                conn.sendall(self.reply(len(self.requests)))
                served += 1
                if self.close_after is not None and served >= self.close_after:
                    return

    def url(self, scheme="http"):
        return f"{scheme}://127.0.0.1:{self.port}/v1/chat"

    def stop(self):
        self.sock.close()


def answer(body: bytes, *headers: str, status="200 OK") -> bytes:
    return (f"HTTP/1.1 {status}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n").encode() + body


def post(urls_and_bodies, size=4, timeout=5.0, **kw):
    async def go():
        pool = Pool(size, **kw)
        try:
            return [await pool.post(url, body, {"Content-Type": "application/json"}, timeout) for url, body in urls_and_bodies]
        finally:
            await pool.aclose()
    return asyncio.run(go())


@pytest.fixture
def raw():
    servers = []

    def make(reply, **kw):
        s = RawServer(reply, **kw)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.stop()


def test_content_length_answers_on_one_kept_alive_connection(raw):
    def answer_body(n):
        return b'{"n": %d}' % n

    s = raw(lambda n: answer(answer_body(n), f"Content-Length: {len(answer_body(n))}"))
    out = post([(s.url(), b'{"q": 1}')] * 3)
    assert [json.loads(r.content)["n"] for r in out] == [1, 2, 3] and s.connections == 1
    head, body = s.requests[0]
    assert head.startswith("POST /v1/chat HTTP/1.1\r\n") and f"Host: 127.0.0.1:{s.port}" in head
    assert "Content-Length: 8" in head and body == b'{"q": 1}'


def test_chunked_and_gzip_answers(raw):
    packed = gzip.compress(b'{"ok": true}')
    chunks = b"5\r\n" + packed[:5] + b"\r\n" + b"%x\r\n" % (len(packed) - 5) + packed[5:] + b"\r\n0\r\nX-Trailer: 1\r\n\r\n"
    s = raw(lambda n: answer(chunks, "Transfer-Encoding: chunked", "Content-Encoding: gzip"))
    (r,) = post([(s.url(), b"{}")])
    assert r.status == 200 and json.loads(r.content) == {"ok": True} and r.headers["content-encoding"] == "gzip"


def test_a_connection_the_server_closed_is_replaced_and_an_answer_without_length_ends_it(raw):
    s = raw(lambda n: answer(b"{}", "Content-Length: 2"), close_after=1)
    assert [r.content for r in post([(s.url(), b"{}")] * 3)] == [b"{}"] * 3
    assert s.connections == 3  # each kept-alive connection was found closed and replaced
    s2 = raw(lambda n: answer(b'{"to": "the end"}', "Connection: close"), close_after=1)
    assert [json.loads(r.content) for r in post([(s2.url(), b"{}")] * 2)] == [{"to": "the end"}] * 2


def test_errors_are_classified(raw):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    with pytest.raises(HTTPFailure) as info:
        post([(f"http://127.0.0.1:{port}/v1", b"{}")])
    assert info.value.kind == "refused"
    cut = raw(lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n{\"half", close_after=1)
    with pytest.raises(HTTPFailure) as info:
        post([(cut.url(), b"{}")])
    assert info.value.kind == "closed" and "mid-answer" in str(info.value)
    junk = raw(lambda n: b"SSH-2.0-OpenSSH\r\n\r\n", close_after=1)
    with pytest.raises(HTTPFailure) as info:
        post([(junk.url(), b"{}")])
    assert info.value.kind == "protocol"
    big = raw(lambda n: answer(b"x" * 10, "Content-Length: 5000000"))
    with pytest.raises(HTTPFailure) as info:
        post([(big.url(), b"{}")], max_body=1024)
    assert info.value.kind == "protocol" and "5000000 bytes" in str(info.value)
    silent = raw(lambda n: b"")  # reads the request, never answers
    with pytest.raises(HTTPFailure) as info:
        post([(silent.url(), b"{}")], timeout=0.3)
    assert info.value.kind == "timeout"


def test_a_gzip_answer_that_decodes_too_large_is_refused(raw):
    bomb = gzip.compress(b"x" * 100_000)
    s = raw(lambda n: answer(bomb, f"Content-Length: {len(bomb)}", "Content-Encoding: gzip"))
    with pytest.raises(HTTPFailure) as info:
        post([(s.url(), b"{}")], max_body=1024)
    assert info.value.kind == "protocol" and info.value.too_large


def test_at_most_size_requests_at_a_time(raw):
    import time

    s = raw(lambda n: (time.sleep(0.05), answer(b"{}", "Content-Length: 2"))[1])

    async def go():
        pool = Pool(2)
        try:
            return await asyncio.gather(*(pool.post(s.url(), b"{}", {}, 5.0) for _ in range(8)))
        finally:
            await pool.aclose()

    assert len(asyncio.run(go())) == 8 and s.connections <= 2


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_tls_checks_the_certificate(raw, tmp_path, monkeypatch):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    s = raw(lambda n: answer(b"{}", "Content-Length: 2"), tls=tls)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    with pytest.raises(HTTPFailure) as info:  # not signed by anyone certifi trusts
        post([(s.url("https"), b"{}")])
    assert info.value.kind == "connect" and "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trusted on purpose
    (r,) = post([(s.url("https"), b"{}")])
    assert r.status == 200 and r.content == b"{}"
