"""``promptctl review --serve``: the same review in a browser, for people who never open a terminal.

A small HTTP server on 127.0.0.1 only, at a URL with a random token in its path (a page without the
token is a 404), showing one pending case at a time with Accept, Reject, Skip and Edit. Each button
is a plain HTML form (no script at all), and each decision goes through :mod:`.pending` exactly as
the terminal review does: the same golden written, the same ``reviewed: {by, at}``, the same refusal
of a case whose golden changed since the run. It stops when every case is decided (or skipped), when
the reviewer presses Stop, or on Ctrl-C.

Against other pages in the same browser: the token is needed for every request; a request whose
``Host`` is not this server's own address is refused (DNS rebinding), as is a POST whose ``Origin``
is another site's; the pages allow no script, no frame around them, and send no referrer to another site.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from ..errors import PromptctlError
from .html import STYLE as REPORT_STYLE
from .html import _e, _hash, word_diff
from .pending import PendingCase, accept, edited_golden, reject
from .reports import golden_text

MAX_BODY = 4 * 1024 * 1024  # an edited golden is text: a form larger than this is refused

STYLE = REPORT_STYLE + """
.progress{font-weight:600;color:var(--muted)}
.flash{padding:6px 10px;border-radius:6px;border:1px solid var(--line);background:var(--panel)}
.flash.bad{border-color:var(--bad)}
form.decide{display:flex;gap:8px;margin:16px 0}
button{font:inherit;padding:6px 16px;border-radius:6px;border:1px solid var(--line);background:var(--panel);
color:var(--fg);cursor:pointer}
button.accept{background:var(--ok);color:#fff;border-color:var(--ok)}
button.reject{background:var(--bad);color:#fff;border-color:var(--bad)}
textarea{width:100%;min-height:160px;font:12px/1.45 ui-monospace,monospace;background:var(--panel);
color:var(--fg);border:1px solid var(--line);border-radius:4px;padding:6px 8px}
"""

CSP = (f"default-src 'none'; style-src {_hash(STYLE)}; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


@dataclass
class Review:
    """The state of one browser review: which cases are decided, and how."""

    root: str
    entries: list[PendingCase]
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    decided: dict[str, str] = field(default_factory=dict)  # entry key -> accepted, edited, rejected, skipped, refused
    flash: tuple[str, bool] | None = None  # (message, is_bad), shown once
    stopped: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)
    done: threading.Event = field(default_factory=threading.Event)
    on_decision: Callable[[str], None] | None = None  # told each decision, as one line

    def current(self) -> tuple[int, PendingCase] | None:
        for n, entry in enumerate(self.entries, 1):
            if entry.key not in self.decided:
                return n, entry
        return None

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(("accepted", "edited", "rejected", "skipped", "refused"), 0)
        for how in self.decided.values():
            out[how] += 1
        return out

    def decide(self, key: str, action: str, text: str | None = None) -> None:
        """Apply one decision (accept, reject, skip, edit, stop) to the case ``key``, if it is the one shown."""
        with self.lock:
            if action == "stop":
                self.stopped = True
                return
            shown = self.current()
            if shown is None or shown[1].key != key:
                self.flash = ("that case was already decided (the page was old); this is the next one", True)
                return
            entry = shown[1]
            try:
                if action in ("accept", "edit"):
                    golden = edited_golden(entry, text or "") if action == "edit" else None
                    accept(self.root, entry, golden)
                    how = "edited" if action == "edit" else "accepted"
                elif action == "reject":
                    reject(self.root, entry)
                    how = "rejected"
                elif action == "skip":
                    how = "skipped"
                else:
                    self.flash = (f"unknown action {action!r}", True)
                    return
            except ValueError as e:
                self.flash = (f"{entry.name}: {e}; nothing written", True)
                return
            except PromptctlError as e:
                self.decided[key] = "refused"
                self.flash = (f"refused {entry.name}: {e}", True)
                self._tell(f"refused {entry.name}: {e}")
                return
            self.decided[key] = how
            verb = {"edited": "accepted (edited)"}.get(how, how)
            self.flash = (f"{verb} {entry.name}" + (f" ({entry.where})" if how != "skipped" else ""), False)
            self._tell(f"{verb} {entry.name} ({entry.where})")

    def _tell(self, line: str) -> None:
        if self.on_decision is not None:
            self.on_decision(line)

    @property
    def finished(self) -> bool:
        return self.stopped or self.current() is None

    # -- pages ---------------------------------------------------------------------------------

    def page(self) -> str:
        with self.lock:
            flash, self.flash = self.flash, None
            shown = self.current() if not self.stopped else None
            body = [f"<p class='flash{' bad' if flash[1] else ''}'>{_e(flash[0])}</p>"] if flash else []
            if shown is None:
                c = self.counts()
                body += ["<h2>Done</h2>", f"<p>accepted {c['accepted'] + c['edited']}, rejected {c['rejected']}, "
                         f"skipped {c['skipped']}" + (f", refused {c['refused']}" if c["refused"] else "") + ".</p>",
                         "<p class=meta>The review has stopped; you can close this page. What was skipped stays "
                         "pending (<code>promptctl review --list</code>).</p>"]
                title = "promptctl review · done"
            else:
                n, entry = shown
                body += self._case(entry, n, len(self.entries))
                title = f"promptctl review · {n}/{len(self.entries)} · {entry.name}"
        return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><meta name=viewport "
                f"content='width=device-width, initial-scale=1'><title>{_e(title)}</title><style>{STYLE}</style>"
                f"</head><body><h1>promptctl review</h1>{''.join(body)}</body></html>\n")

    def _case(self, entry: PendingCase, n: int, total: int) -> list[str]:
        old, new = golden_text(entry.old), golden_text(entry.new)
        out = [f"<p class=progress>{n}/{total}</p>",
               f"<h2><span class='badge {_e(entry.status)}'>{_e(entry.status.upper())}</span> {_e(entry.name)}</h2>",
               f"<p class=meta>{_e(entry.where)} · score {entry.score:.2f}"
               + (f" · model {_e(entry.model)}" if entry.model else "")
               + (f" · run {_e(entry.run.get('at'))} on {_e(entry.run.get('version'))}" if entry.run.get("at") else "")
               + "</p>"]
        if entry.description:
            out.append(f"<p>{_e(entry.description)}</p>")
        if entry.tags:
            out.append("<p>" + "".join(f"<span class=tag>{_e(t)}</span>" for t in entry.tags) + "</p>")
        if entry.inputs:
            out += ["<h4>inputs</h4>", f"<pre>{_e(json.dumps(dict(entry.inputs), ensure_ascii=False, indent=2, default=str))}</pre>"]
        out.append("<div class=cols><div><h4>golden</h4>"
                   + (f"<pre class=golden>{_e(old)}</pre>" if entry.old is not None else "<p class=meta>no golden yet</p>")
                   + f"</div><div><h4>new output</h4><pre class=output>{_e(new)}</pre></div></div>")
        if entry.old is not None:
            diff = word_diff(old, new)
            out.append("<h4>golden → new output, word by word</h4>"
                       + (f"<pre class=diff>{diff}</pre>" if diff is not None else "<p class=meta>too long for a word diff</p>"))
        if entry.asserts:
            out.append("<h4>assertions</h4><table class=asserts><thead><tr><th>verdict</th><th>type</th><th>score</th>"
                       "<th>reason</th></tr></thead><tbody>")
            for a in entry.asserts:
                ok = bool(a.get("pass"))
                out.append(f"<tr><td class={'pass' if ok else 'fail'}>{'pass' if ok else 'FAIL'}</td><td>{_e(a.get('type'))}</td>"
                           f"<td class=n>{float(a.get('score') or 0):.2f}</td><td>{_e(a.get('reason'))}</td></tr>")
            out.append("</tbody></table>")
        key = f"<input type=hidden name=key value='{_e(entry.key)}'>"
        out.append(f"<form class=decide method=post action=decide>{key}"
                   "<button class=accept name=action value=accept>Accept</button>"
                   "<button class=reject name=action value=reject>Reject</button>"
                   "<button name=action value=skip>Skip</button>"
                   "<button name=action value=stop>Stop reviewing</button></form>")
        out.append(f"<details class=edit><summary>Edit the new golden, then accept it</summary>"
                   f"<form method=post action=decide>{key}<textarea name=golden aria-label='the new golden'>"
                   f"{_e(new)}</textarea><p><button class=accept name=action value=edit>Accept edited</button>"
                   + (" <span class=meta>JSON</span>" if isinstance(entry.new, (dict, list)) else "")
                   + "</p></form></details>")
        return out


def _handler(review: Review, origins: Sequence[str]) -> type[BaseHTTPRequestHandler]:
    prefix = f"/{review.token}/"

    class Handler(BaseHTTPRequestHandler):
        server_version = "promptctl-review"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: decisions are told instead
            return

        def _send(self, status: int, body: str = "", location: str | None = None) -> None:
            data = body.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Security-Policy", CSP)
            self.send_header("X-Frame-Options", "DENY")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "same-origin")  # no-referrer would make Origin "null"
            self.send_header("Cache-Control", "no-store")
            if location:
                self.send_header("Location", location)
            self.end_headers()
            self.wfile.write(data)

        def _allowed(self) -> bool:
            host = self.headers.get("Host", "")
            if f"http://{host}" not in origins:
                self._send(HTTPStatus.FORBIDDEN, "this review answers only at its own address\n")
                return False
            if not self.path.split("?", 1)[0].startswith(prefix):
                self._send(HTTPStatus.NOT_FOUND, "not found\n")
                return False
            return True

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if not self._allowed():
                return
            if self.path.split("?", 1)[0] != prefix:
                self._send(HTTPStatus.NOT_FOUND, "not found\n")
                return
            self._send(HTTPStatus.OK, review.page())
            if review.finished:
                review.done.set()

        def do_POST(self) -> None:  # noqa: N802
            if not self._allowed():
                return
            origin = self.headers.get("Origin")
            if origin is not None and origin not in origins:
                self._send(HTTPStatus.FORBIDDEN, "a form from another site cannot decide this review\n")
                return
            if self.path.split("?", 1)[0] != prefix + "decide":
                self._send(HTTPStatus.NOT_FOUND, "not found\n")
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "the form is too large\n")
                return
            form = parse_qs(self.rfile.read(length).decode("utf-8", "replace"), keep_blank_values=True)
            first = {k: v[0] for k, v in form.items() if v}
            review.decide(first.get("key", ""), first.get("action", ""), first.get("golden"))
            self._send(HTTPStatus.SEE_OTHER, "", location=prefix)

    return Handler


class ReviewServer:
    """The review's HTTP server on 127.0.0.1 (``port`` 0: any free port)."""

    def __init__(self, review: Review, port: int = 0) -> None:
        self.review = review
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), BaseHTTPRequestHandler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        origins = (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}")
        self.httpd.RequestHandlerClass = _handler(review, origins)
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.review.token}/"

    def serve(self) -> None:
        """Serve until every case is decided and the last page was shown (or Stop); Ctrl-C propagates."""
        self._thread.start()
        try:
            while not self.review.done.wait(0.2):
                pass
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()
