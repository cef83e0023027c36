"""The safe YAML loader: values and their positions, and everything it must refuse (with file:line:col)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from promptctl import yamlio
from promptctl.errors import FileFormatError, YamlError
from promptctl.yamlio import Document, Mark, decode, load_file, loads

PARSERS = ["libyaml", "python"]


@pytest.fixture(params=PARSERS)
def parser(request, monkeypatch):
    """Run a test with libyaml's event parser and with PyYAML's pure-Python one."""
    if request.param == "libyaml":
        if not getattr(yaml, "__with_libyaml__", False):
            pytest.skip("PyYAML built without libyaml")
        monkeypatch.setattr(yamlio, "_Parser", yaml.CSafeLoader)
    else:
        monkeypatch.setattr(yamlio, "_Parser", yaml.SafeLoader)
    return request.param


def refused(text: str, path: str = "f.yaml") -> YamlError:
    with pytest.raises(YamlError) as info:
        loads(text, path=path)
    assert type(info.value) is YamlError
    return info.value


# -- valid data and positions ----------------------------------------------------------------------

POSITIONS = """\
name: demo
model:  openai/x
params:
  temperature: 0.2
  stop: ["a", 'b']
messages:
  - role: system
    content: |
      Line one.
        Indented {{ x }}
      Line three.
  - role: user
    content: "{{ ticket }}"
"""


def test_loads_returns_plain_data():
    doc = loads(POSITIONS, path="p.yaml")
    assert isinstance(doc, Document)
    assert doc.path == "p.yaml"
    assert doc.text == POSITIONS
    assert doc.data == {
        "name": "demo",
        "model": "openai/x",
        "params": {"temperature": 0.2, "stop": ["a", "b"]},
        "messages": [
            {"role": "system", "content": "Line one.\n  Indented {{ x }}\nLine three.\n"},
            {"role": "user", "content": "{{ ticket }}"},
        ],
    }


def lc(mark: Mark) -> tuple[int, int]:
    return mark.line, mark.col


def test_key_and_value_positions_top_level(parser):
    doc = loads(POSITIONS, path="p.yaml")
    assert lc(doc.keys[("name",)]) == (1, 1)
    assert lc(doc.values[("name",)]) == (1, 7)
    assert lc(doc.keys[("model",)]) == (2, 1)
    assert lc(doc.values[("model",)]) == (2, 9)
    assert doc.values[()] == Mark(1, 1)


def test_key_and_value_positions_nested(parser):
    doc = loads(POSITIONS, path="p.yaml")
    assert lc(doc.keys[("params", "temperature")]) == (4, 3)
    assert lc(doc.values[("params", "temperature")]) == (4, 16)
    assert doc.values[("params", "stop", 0)] == Mark(5, 10, '"')
    assert doc.values[("params", "stop", 1)] == Mark(5, 15, "'")
    assert doc.values[("messages",)] == Mark(7, 3)
    assert doc.values[("messages", 0)] == Mark(7, 5)
    assert lc(doc.keys[("messages", 1, "content")]) == (13, 5)
    assert doc.values[("messages", 1, "content")] == Mark(13, 14, '"')
    assert doc.values[("messages", 0, "content")] == Mark(8, 14, "|")


def test_plain_scalar_style_is_none(parser):
    # documented on Mark; libyaml used to report '' for plain scalars
    doc = loads("a: b\n", path="p.yaml")
    assert doc.keys[("a",)] == Mark(1, 1, None)
    assert doc.values[("a",)] == Mark(1, 4, None)


def test_mark_falls_back_to_closest_ancestor():
    doc = loads(POSITIONS, path="p.yaml")
    # a missing field points at the mapping that lacks it
    assert doc.mark(("params", "max_tokens")) == Mark(4, 3)
    assert doc.mark(("messages", 1, "name")) == Mark(12, 5)
    assert doc.mark(("nope", "deeper")) == Mark(1, 1)
    # key=True prefers the key's own mark
    assert lc(doc.mark(("params", "temperature"), key=True)) == (4, 3)
    assert lc(doc.mark(("params", "temperature"))) == (4, 16)
    # ...and falls back to the closest ancestor's key
    assert lc(doc.mark(("params", "absent"), key=True)) == (3, 1)


def test_template_position_block_scalar_maps_each_line():
    doc = loads(POSITIONS, path="p.yaml")
    path = ("messages", 0, "content")
    # the template's first line is the line after the `|` indicator, at its indentation
    assert doc.template_position(path, 1) == (9, 7)
    assert doc.template_position(path, 2) == (10, 9)
    assert doc.template_position(path, 3) == (11, 7)


def test_template_position_block_scalar_in_sequence_item():
    text = "prompts:\n  - |\n    first\n    {{ bad }\n"
    doc = loads(text, path="p.yaml")
    assert doc.values[("prompts", 0)] == Mark(2, 5, "|")
    assert doc.template_position(("prompts", 0), 2) == (4, 5)


def test_template_position_quoted_scalar_is_its_own_line():
    doc = loads(POSITIONS, path="p.yaml")
    assert doc.template_position(("messages", 1, "content"), 1) == (13, 14)


def test_template_position_folded_scalar_follows_folding():
    # was a bug: folded (>) scalars were mapped line-for-line, but folding joins lines
    text = "content: >\n  a\n  b\n\n  c\n"
    doc = loads(text, path="p.yaml")
    assert doc.data["content"] == "a b\nc\n"
    assert doc.template_position(("content",), 1) == (2, 3)
    # template line 2 is "c", which sits on file line 5
    assert doc.template_position(("content",), 2) == (5, 3)


def test_template_position_folded_paragraphs():
    text = "content: >\n  Hello {{ a }}\n  world.\n\n  Second {{ b }}\n  para.\nnext: 1\n"
    doc = loads(text, path="p.yaml")
    assert doc.data["content"] == "Hello {{ a }} world.\nSecond {{ b }} para.\n"
    assert doc.template_position(("content",), 2) == (5, 3)


def test_template_position_folded_more_indented_lines():
    text = "content: >\n  a\n    b\n  c\n"
    doc = loads(text, path="p.yaml")
    assert doc.data["content"] == "a\n  b\nc\n"
    assert doc.template_position(("content",), 2) == (3, 5)
    assert doc.template_position(("content",), 3) == (4, 3)


def test_scalar_types_are_plain_json_values():
    doc = loads("s: text\ni: 3\nf: 1.5\nb: true\nn: null\nt: ~\ne:\nq: '3'\n", path="f.yaml")
    assert doc.data == {"s": "text", "i": 3, "f": 1.5, "b": True, "n": None, "t": None, "e": None, "q": "3"}
    assert type(doc.data["i"]) is int and type(doc.data["b"]) is bool


def test_mapping_keys_are_strings_like_json():
    doc = loads("1: a\ntrue: b\n", path="f.yaml")
    assert doc.data == {"1": "a", "true": "b"}


def test_timestamps_stay_strings():
    doc = loads(
        "d: 2024-01-01\nt: 2024-01-01T10:00:00Z\nsp: 2001-12-14 21:59:43.10 -5\n", path="f.yaml"
    )
    assert doc.data == {"d": "2024-01-01", "t": "2024-01-01T10:00:00Z", "sp": "2001-12-14 21:59:43.10 -5"}
    assert all(type(v) is str for v in doc.data.values())


def test_explicit_json_tags_are_allowed():
    doc = loads(
        "a: !!str 123\nb: !!int '42'\nc: !!float 1\nd: !!bool 'true'\ne: !!null ''\n"
        "f: !!map {x: 1}\ng: !!seq [1]\n",
        path="f.yaml",
    )
    assert doc.data == {"a": "123", "b": 42, "c": 1.0, "d": True, "e": None, "f": {"x": 1}, "g": [1]}
    assert type(doc.data["a"]) is str and type(doc.data["c"]) is float


def test_explicit_tag_with_unreadable_value_is_a_yaml_error():
    e = refused("a: 1\nb: !!int abc\n")
    assert "cannot read 'abc' as int" in e.message
    assert (e.line, e.col) == (2, 4)


@pytest.mark.parametrize("text", ["a: !!bool maybe\n", "a: !!int ''\n", "a: !!float ''\n", "a: !!int 0x\n"])
def test_explicit_tag_with_unreadable_value_never_crashes(parser, text):
    # was a bug: KeyError/IndexError from PyYAML's constructors escaped (exit 3)
    e = refused(text)
    assert "cannot read" in e.message
    assert (e.line, e.col) == (1, 4)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", ".NaN", "!!float .inf"])
def test_non_finite_floats_are_refused(parser, value):
    # was a bug: they loaded as floats, which JSON cannot hold, and crashed hashing later (exit 3)
    e = refused(f"params:\n  temperature: {value}\n")
    assert value.split()[-1] in e.message and "not a finite number" in e.message
    assert (e.line, e.col) == (2, 16)


def test_empty_and_comment_only_files_give_none():
    assert loads("", path="f.yaml").data is None
    assert loads("# just a comment\n\n", path="f.yaml").data is None


def test_load_file_empty_file(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_bytes(b"")
    doc = load_file(f)
    assert doc.data is None
    assert doc.path == str(f)


def test_load_file_reads_utf8_with_bom_and_uses_display(tmp_path):
    f = tmp_path / "bom.yaml"
    f.write_bytes("\ufeffgreeting: héllo\n".encode())
    doc = load_file(f, display="shown.yaml")
    assert doc.data == {"greeting": "héllo"}
    assert doc.path == "shown.yaml"
    assert lc(doc.values[("greeting",)]) == (1, 11)


def test_single_explicit_document_is_fine():
    assert loads("---\na: 1\n...\n", path="f.yaml").data == {"a": 1}


# -- malformed YAML ----------------------------------------------------------------------------------


def test_unclosed_flow_sequence(parser):
    e = refused("a: [1, 2\n")
    assert e.message.startswith("invalid YAML:")
    assert "the `[` here is not closed" in e.message and "by line 2, column 1" in e.message
    assert (e.line, e.col) == (1, 4)  # at the `[` that is never closed
    assert str(e).startswith("f.yaml:1:4: invalid YAML")
    assert e.hint == "fix the YAML syntax"


def test_unclosed_flow_mapping(parser):
    e = refused("x: 1\nb: {c: 1\n")
    assert "the `{` here is not closed" in e.message
    assert (e.line, e.col) == (2, 4)


def test_a_bracket_left_open_at_the_end_of_the_file(parser):
    e = refused("x: [\n")  # nothing after the `[`: the parser gives up at the end, the `[` is the fault
    assert "the `[` here is not closed" in e.message and (e.line, e.col) == (1, 4)
    # brackets inside quotes and comments do not count; the open one before them does
    e = refused('a: 1\nmessages: [{role: user, content: "hi [x"},\n  # a comment [\n')
    assert "the `[` here is not closed" in e.message and (e.line, e.col) == (2, 11)


def test_bad_indentation(parser):
    e = refused("a:\n  b: 1\n c: 2\n")
    assert "block mapping" in e.message
    assert (e.line, e.col) == (3, 2)
    assert str(e).startswith("f.yaml:3:2: invalid YAML")


def test_tab_indentation(parser):
    e = refused("a:\n\tb: 1\n")
    assert "cannot start any token" in e.message
    assert (e.line, e.col) == (2, 1)


def test_unterminated_quote(parser):
    e = refused('a: 1\nb: "abc\n')
    assert "the quoted text that starts here is not closed" in e.message and "end of stream" in e.message
    assert (e.line, e.col) == (2, 4)


def test_mapping_value_in_wrong_context(parser):
    e = refused("a: b: c\n")
    assert "mapping values are not allowed" in e.message
    assert (e.line, e.col) == (1, 5)


def test_malformed_yaml_from_file_names_the_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("ok: 1\nbad: [1,\n", encoding="utf-8")
    with pytest.raises(YamlError) as info:
        load_file(f, display="prompts/bad.yaml")
    assert str(info.value).startswith("prompts/bad.yaml:2:6: invalid YAML: the `[` here is not closed")


# -- duplicate keys --------------------------------------------------------------------------------


def test_duplicate_key_names_key_and_first_line(parser):
    e = refused("a: 1\nb: 2\na: 3\n")
    assert e.message == "duplicate key 'a' (first defined at line 1)"
    assert (e.line, e.col) == (3, 1)
    assert str(e) == "f.yaml:3:1: duplicate key 'a' (first defined at line 1) (remove one of them)"


def test_duplicate_key_nested(parser):
    e = refused("x:\n  y: 0\n  a: 1\n  a: 2\n")
    assert e.message == "duplicate key 'a' (first defined at line 3)"
    assert (e.line, e.col) == (4, 3)


def test_duplicate_key_in_flow_mapping_and_quoted(parser):
    e = refused("m: {a: 1, \"a\": 2}\n")
    assert "duplicate key 'a'" in e.message
    assert (e.line, e.col) == (1, 11)


def test_same_key_in_different_mappings_is_fine():
    doc = loads("x: {a: 1}\ny: {a: 2}\nz:\n  - a: 1\n  - a: 2\n", path="f.yaml")
    assert doc.data == {"x": {"a": 1}, "y": {"a": 2}, "z": [{"a": 1}, {"a": 2}]}


# -- anchors, aliases ------------------------------------------------------------------------------


def test_anchor_refused(parser):
    e = refused("base: &b {x: 1}\nother: 2\n")
    assert e.message == "YAML anchors (&b) are not allowed"
    assert (e.line, e.col) == (1, 7)


def test_alias_refused(parser):
    e = refused("a: 1\nb: *x\n")
    assert e.message == "YAML aliases (*x) are not allowed"
    assert (e.line, e.col) == (2, 4)


def test_merge_key_with_alias_refused(parser):
    e = refused("base: {x: 1}\nuse:\n  <<: *base\n")
    assert "aliases (*base)" in e.message
    assert (e.line, e.col) == (3, 7)


BILLION_LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
)


def test_billion_laughs_fails_at_the_first_anchor(parser):
    e = refused(BILLION_LAUGHS, path="bomb.yaml")
    assert "anchors (&a)" in e.message
    assert (e.line, e.col) == (1, 4)


def test_alias_bomb_without_first_anchor_refused_at_first_alias(parser):
    # an alias with no anchor defined (e.g. the tail of a bomb) is refused too, before any expansion
    tail = re.sub(r"&[a-z] ", "", BILLION_LAUGHS.split("\n", 1)[1])
    e = refused(tail, path="bomb.yaml")
    assert "aliases (*a)" in e.message
    assert (e.line, e.col) == (1, 5)


# -- tags ------------------------------------------------------------------------------------------


def test_python_tag_refused_and_never_executed(parser, monkeypatch):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    e = refused("ok: 1\ncmd: !!python/object/apply:os.system ['echo pwned']\n")
    assert "python/object/apply:os.system" in e.message and "not allowed" in e.message
    assert (e.line, e.col) == (2, 6)
    assert calls == []


def test_python_tag_on_scalar_refused(parser):
    e = refused("x: !!python/name:os.system ''\n")
    assert "python/name:os.system" in e.message
    assert (e.line, e.col) == (1, 4)


def test_binary_tag_refused(parser):
    e = refused("blob: !!binary aGVsbG8=\n")
    assert e.message == "YAML tag tag:yaml.org,2002:binary is not allowed"
    assert (e.line, e.col) == (1, 7)


@pytest.mark.parametrize(
    "text, where",
    [("a: !foo bar\n", (1, 4)), ("a:\n  b: !foo {c: 1}\n", (2, 6)), ("- !foo [1]\n", (1, 3))],
)
def test_custom_tag_refused(parser, text, where):
    e = refused(text)
    assert e.message == "YAML tag !foo is not allowed"
    assert (e.line, e.col) == where


@pytest.mark.parametrize("tag", ["!!timestamp 2024-01-01", "!!set {a, b}", "!!omap [{a: 1}]"])
def test_other_yaml_types_refused(parser, tag):
    e = refused(f"v: {tag}\n")
    assert "is not allowed" in e.message and tag.split()[0][2:] in e.message
    assert (e.line, e.col) == (1, 4)


def test_quoted_non_finite_values_stay_strings():
    assert loads("a: '.nan'\nb: !!str .inf\n", path="f.yaml").data == {"a": ".nan", "b": ".inf"}


@pytest.mark.parametrize(
    "text", ["!!python/name:os.system : 1\n", "!foo k: 1\n", "!!binary aGk=: 1\n", "!!int 1: x\n"]
)
def test_tag_on_a_key_refused(parser, text):
    # was a bug: tags on mapping keys were never checked (silently dropped)
    e = refused(text)
    assert "is not allowed" in e.message and text.split()[0].lstrip("!") in e.message
    assert (e.line, e.col) == (1, 1)


def test_str_tag_on_a_key_is_allowed():
    assert loads("!!str 1: x\n", path="f.yaml").data == {"1": "x"}


# -- structure -------------------------------------------------------------------------------------


def test_second_document_refused(parser):
    e = refused("a: 1\n---\nb: 2\n")
    assert e.message == "a second YAML document (---) in one file"
    assert (e.line, e.col) == (2, 1)


def test_second_document_after_explicit_first(parser):
    e = refused("---\na: 1\n---\nb: 2\n")
    assert "second YAML document" in e.message
    assert (e.line, e.col) == (3, 1)


@pytest.mark.parametrize(
    "text, where",
    [("? [a, b]\n: 1\n", (1, 3)), ("{a: 1}: 2\n", (1, 1)), ("x:\n  ? {k: v}\n  : 1\n", (2, 5))],
)
def test_complex_keys_refused(parser, text, where):
    e = refused(text)
    assert e.message == "complex mapping keys are not allowed"
    assert (e.line, e.col) == where


# -- depth ------------------------------------------------------------------------------------------


def test_nesting_up_to_max_depth_is_fine():
    depth = yamlio.MAX_DEPTH
    doc = loads("[" * depth + "]" * depth, path="f.yaml")
    value = doc.data
    for _ in range(depth - 1):
        assert isinstance(value, list) and len(value) == 1
        value = value[0]
    assert value == []


def test_nesting_one_past_max_depth_refused(parser):
    depth = yamlio.MAX_DEPTH + 1
    e = refused("[" * depth + "]" * depth)
    assert e.message == f"nesting is deeper than {yamlio.MAX_DEPTH} levels"
    assert (e.line, e.col) == (1, depth)


def test_deep_flow_nesting_fails_with_yaml_error(parser):
    # libyaml stops at its own flow limit (1,000); the pure-Python parser at MAX_DEPTH
    e = refused("[" * 100_000)
    assert "nesting" in e.message
    assert e.line == 1
    assert e.col == (1001 if parser == "libyaml" else yamlio.MAX_DEPTH + 1)


def test_deep_flow_mapping_nesting_under_a_key(parser):
    e = refused("a: " + "{b: " * 100_000 + "1" + "}" * 100_000)
    assert "nesting" in e.message
    assert e.line == 1 and e.col > 3


def test_deep_block_sequence_nesting(parser):
    e = refused("- " * 100_000 + "x\n")
    assert e.message == f"nesting is deeper than {yamlio.MAX_DEPTH} levels"
    assert (e.line, e.col) == (1, 2 * yamlio.MAX_DEPTH + 1)


def test_deep_block_mapping_nesting(parser):
    # 1,000 levels of one-space indented mappings: 100,000 levels would need ~5 GB of indentation,
    # which the size limit refuses first (see the size tests); `- - -` below goes 100,000 deep
    text = "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "end\n"
    e = refused(text)
    assert e.message == f"nesting is deeper than {yamlio.MAX_DEPTH} levels"
    assert (e.line, e.col) == (yamlio.MAX_DEPTH + 1, yamlio.MAX_DEPTH + 1)


def test_deep_block_nesting_in_a_file(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("items:\n" + "  - " * 100_000 + "x\n", encoding="utf-8")
    with pytest.raises(YamlError) as info:
        load_file(f, display="deep.yaml")
    assert str(info.value).startswith("deep.yaml:2:")
    assert info.value.line == 2 and info.value.col == 4 * (yamlio.MAX_DEPTH - 1) + 3


# -- size and encoding -------------------------------------------------------------------------------


def test_huge_file_refused_before_parsing(tmp_path, monkeypatch):
    f = tmp_path / "huge.yaml"
    with open(f, "wb") as fh:
        fh.write(b"a: [" + b"x" * yamlio.MAX_BYTES)  # also malformed: the size must be reported first

    def no_parse(*a, **k):  # pragma: no cover - reached only on failure
        raise AssertionError("parsed a file over the size limit")

    monkeypatch.setattr(yamlio, "loads", no_parse)
    with pytest.raises(YamlError) as info:
        load_file(f, display="huge.yaml")
    e = info.value
    size = yamlio.MAX_BYTES + 4
    assert e.message == f"file is {size:,} bytes, over the {yamlio.MAX_BYTES:,}-byte limit"
    assert e.hint == "split it into smaller files"
    assert (e.path, e.line, e.col) == ("huge.yaml", None, None)
    assert str(e).startswith("huge.yaml: file is ")


def test_file_exactly_at_the_limit_is_read(tmp_path):
    f = tmp_path / "big.yaml"
    body = b"a: '" + b"x" * (yamlio.MAX_BYTES - 6) + b"'\n"
    assert len(body) == yamlio.MAX_BYTES
    f.write_bytes(body)
    doc = load_file(f)
    assert len(doc.data["a"]) == yamlio.MAX_BYTES - 6


def test_huge_text_refused_by_loads():
    e = refused("a: " + "x" * yamlio.MAX_BYTES)
    assert "-byte limit" in e.message and f"{yamlio.MAX_BYTES:,}" in e.message
    assert e.path == "f.yaml"


def test_non_utf8_file_refused_with_line(tmp_path):
    f = tmp_path / "latin1.yaml"
    f.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(YamlError) as info:
        load_file(f, display="latin1.yaml")
    e = info.value
    assert e.message == "file is not valid UTF-8"
    assert e.line == 2
    assert str(e).startswith("latin1.yaml:2")
    assert e.hint == "save it as UTF-8"


def test_decode_reports_line_of_bad_byte():
    with pytest.raises(YamlError) as info:
        decode(b"x: 1\ny: 2\n\nz: \xff\xfe\n", display="d.yaml")
    assert info.value.line == 4
    assert info.value.path == "d.yaml"


def test_missing_file_is_a_yaml_error(tmp_path):
    with pytest.raises(YamlError) as info:
        load_file(tmp_path / "nope.yaml", display="nope.yaml")
    assert info.value.message.startswith("cannot read file")
    assert info.value.path == "nope.yaml"
    assert isinstance(info.value, FileFormatError)


def test_load_inputs_file_requires_a_mapping(tmp_path):
    f = tmp_path / "inputs.yaml"
    f.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(YamlError) as info:
        yamlio.load_inputs_file(str(f))
    assert "mapping of input names" in info.value.message
    assert (info.value.line, info.value.col) == (1, 1)
    f.write_text("", encoding="utf-8")
    assert yamlio.load_inputs_file(str(f)) == {}
    f.write_text("who: World\n", encoding="utf-8")
    assert yamlio.load_inputs_file(str(f)) == {"who": "World"}


def test_dump_round_trips_through_loads():
    data = {"promptctl": 1, "models": {"fast": "openai/x"}, "list": [1, "two", None]}
    assert loads(yamlio.dump(data), path="d.yaml").data == data


def test_path_type_accepted(tmp_path: Path):
    f = tmp_path / "p.yaml"
    f.write_text("a: 1\n", encoding="utf-8")
    assert load_file(Path(f)).data == {"a": 1}
