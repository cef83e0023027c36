"""The recordings store: keys, append-as-you-go, last record wins, torn lines, compaction."""

from __future__ import annotations

import json

from promptctl.evals.provider import ChatRequest, Completion, Endpoint
from promptctl.evals.recordings import RecordingStore, prompt_file, request_key


def payload(**kw):
    base = {"model": "openai/m", "messages": [{"role": "user", "content": "hi"}], "params": {"temperature": 0},
            "response_format": None}
    return {**base, **kw}


def test_the_key_covers_model_messages_params_and_output_schema():
    key = request_key("chat", payload())
    assert key.startswith("sha256:")
    assert key == request_key("chat", payload())
    assert key != request_key("chat", payload(model="openai/other"))
    assert key != request_key("chat", payload(messages=[{"role": "user", "content": "hi!"}]))
    assert key != request_key("chat", payload(params={"temperature": 0.5}))
    assert key != request_key("chat", payload(response_format={"type": "json_object"}))
    assert key != request_key("grader", payload())
    # 1.0 and 1 are the same number: canonical JSON
    assert request_key("chat", payload(params={"t": 1.0})) == request_key("chat", payload(params={"t": 1}))


def test_a_request_payload_never_holds_the_address_or_the_key(monkeypatch):
    monkeypatch.setenv("MY_KEY", "sk-canary-123456")
    ep = Endpoint(name="local", model="openai/m", api_base="http://10.1.2.3:9/v1", api_key_env="MY_KEY")
    request = ChatRequest(ep, ({"role": "user", "content": "hi"},), {"temperature": 0})
    text = json.dumps(request.payload())
    assert "10.1.2.3" not in text and "MY_KEY" not in text and "canary" not in text
    # the address does not change the key either: recordings replay against another server
    other = ChatRequest(Endpoint(name="x", model="openai/m"), request.messages, request.params)
    assert request_key("chat", request.payload()) == request_key("chat", other.payload())


def test_records_are_appended_at_once_and_read_back(tmp_path):
    folder = tmp_path / "rec"
    store = RecordingStore(folder)
    assert len(store) == 0 and not folder.exists()  # nothing is created until something is recorded
    done = Completion(text="hello", model="m", usage={"total_tokens": 3}, cost_usd=0.01, latency_ms=12.5)
    store.put("k1", {"kind": "chat", "response": done.to_json()}, file=prompt_file("support/reply"))
    # on disk before close(): an interrupted run keeps it
    lines = (folder / "support" / "reply.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["key"] == "k1"
    store.close()
    again = RecordingStore(folder)
    got = Completion.from_json(again.get("k1")["response"])
    assert (got.text, got.usage, got.cost_usd, got.latency_ms, got.recorded) == ("hello", {"total_tokens": 3}, 0.01, 12.5, True)


def test_the_last_record_wins_and_compaction_drops_the_older(tmp_path):
    store = RecordingStore(tmp_path)
    for text in ("one", "two"):
        store.put("k", {"response": {"text": text}}, file="p.jsonl")
    store.put("j", {"response": {"text": "other"}}, file="p.jsonl")
    store.close()
    assert len((tmp_path / "p.jsonl").read_text().splitlines()) == 3
    store = RecordingStore(tmp_path)
    assert store.get("k")["response"]["text"] == "two"
    assert store.compact() == ["p.jsonl"]
    lines = [json.loads(x) for x in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [(r["key"], r["response"]["text"]) for r in lines] == [("j", "other"), ("k", "two")]  # key order
    assert RecordingStore(tmp_path).compact() == []  # nothing superseded, nothing written: nothing rewritten


def test_recording_the_same_answers_in_another_order_gives_the_same_file(tmp_path):
    files = []
    for n, order in enumerate((["a", "b", "c", "d"], ["d", "b", "a", "c"])):
        store = RecordingStore(tmp_path / str(n))
        for key in order:  # as concurrent calls finish in any order
            store.put(key, {"response": {"text": key.upper()}}, file="p.jsonl")
        store.compact()
        files.append((tmp_path / str(n) / "p.jsonl").read_bytes())
    assert files[0] == files[1] and files[0].count(b"\n") == 4


def test_prune_drops_what_the_run_did_not_use_and_removes_emptied_files(tmp_path):
    store = RecordingStore(tmp_path)
    for key, file in (("a", "p.jsonl"), ("b", "p.jsonl"), ("c", "old/gone.jsonl"), ("d", "_graders.jsonl")):
        store.put(key, {"response": {"text": key}}, file=file)
    store.close()
    with open(tmp_path / "p.jsonl", "a") as fh:
        fh.write("{torn\n")
    store = RecordingStore(tmp_path)
    assert store.get("a") and store.get("d") and store.get("zzz") is None
    assert store.unused() == {"old/gone.jsonl": 1, "p.jsonl": 2}  # b, and the torn line
    assert (tmp_path / "old/gone.jsonl").is_file()  # unused() changes nothing
    assert store.prune() == {"old/gone.jsonl": 1, "p.jsonl": 2}
    assert not (tmp_path / "old/gone.jsonl").exists()
    assert [json.loads(x)["key"] for x in (tmp_path / "p.jsonl").read_text().splitlines()] == ["a"]
    assert (tmp_path / "_graders.jsonl").is_file()
    again = RecordingStore(tmp_path)
    again.get("a"), again.get("d")
    assert again.unused() == {} and again.prune() == {}


def test_a_torn_last_line_is_skipped_and_the_next_record_starts_on_its_own_line(tmp_path):
    good = json.dumps({"key": "a", "response": {"text": "x"}})
    (tmp_path / "p.jsonl").write_text(good + "\n" + '{"key": "b", "respo')
    store = RecordingStore(tmp_path)
    assert store.get("a") is not None and store.get("b") is None
    assert store.bad_lines == [f"{tmp_path / 'p.jsonl'}:2"]
    store.put("c", {"response": {"text": "y"}}, file="p.jsonl")
    store.close()
    again = RecordingStore(tmp_path)
    assert again.get("c")["response"]["text"] == "y" and again.get("a") is not None
