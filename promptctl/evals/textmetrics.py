"""``bleu`` and ``rouge-n``: overlap of the output with reference texts, scored as promptfoo scores them.

Neither is a textbook metric that a library reproduces: promptfoo computes BLEU itself (tokens are
the lower-cased output split on white space, punctuation attached; clipped n-gram counts against each
reference taken whole, the best reference's total kept; a precision of 0 read as 1e-7; orders the
output is too short for skipped) and ROUGE through js-rouge (ROUGE-1 F-measure over Treebank-style
tokens, ignoring case, unique matching unigrams). A library's BLEU (sacrebleu, NLTK) or ROUGE
(rouge-score) tokenizes, clips and smooths differently and would change verdicts that the suite was
written against, so the two formulas are written out here, each in a few lines, with promptfoo's
tests' figures in ours.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .assertions import AssertionSetupError, Judge, Outcome, Subject, _required, _text, _threshold

DEFAULT_BLEU = 0.5
DEFAULT_ROUGE = 0.75


# -- BLEU --------------------------------------------------------------------------------------


def _ngrams(words: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i:i + n]) for i in range(len(words) - n + 1))


def bleu(candidate: str, references: Sequence[str]) -> float:
    """promptfoo's sentence BLEU (orders 1-4, weights 1/4) of ``candidate`` against ``references``."""
    if not candidate or not references:
        raise AssertionSetupError("bleu needs an output and at least one reference text")
    words = candidate.lower().strip().split()
    refs = [r.lower().strip().split() for r in references]
    logs: list[float] = []
    for n in range(1, 5):
        grams = _ngrams(words, n)
        total = sum(grams.values())
        if not total:  # the output is shorter than n words: this order is skipped, the others reweighted
            continue
        best = max(sum(min(c, _ngrams(ref, n)[g]) for g, c in grams.items()) for ref in refs)
        logs.append(math.log(best / total if best else 1e-7))
    if not logs:
        return 0.0
    c = len(words)
    r = min((len(ref) for ref in refs), key=lambda length: (abs(length - c), length))  # closest, then shorter
    brevity = 1.0 if c > r else math.exp(1 - r / c) if c else 0.0
    return brevity * math.exp(sum(logs) / len(logs))


def _bleu(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    value = _required(spec, "bleu")
    if isinstance(value, list):
        references = [_text(v) for v in value]
    elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
        references = [_text(value)]
    else:
        raise AssertionSetupError("bleu needs a reference text, or a list of them")
    if not references or not all(r.strip() for r in references):
        raise AssertionSetupError("bleu needs non-empty reference texts")
    if not s.output:
        return False, 0.0, "BLEU: the output is empty"
    limit = _threshold(spec, DEFAULT_BLEU, "bleu")
    score = bleu(s.output, references)
    ok = score >= limit
    return ok, score, f"BLEU {score:.4f} {'>=' if ok else '<'} {limit:g}"


# -- ROUGE-N (js-rouge's `n`: unigrams) ----------------------------------------------------------

# js-rouge's Penn Treebank tokenizer, step by step: quotes, ellipses, separators, brackets, the final
# period, contractions; then split on white space
_TREEBANK = [
    (re.compile(r'^"'), "`` "),
    (re.compile(r'(``)'), r" \1 "),
    (re.compile(r'([ (\[{<])"'), r"\1 `` "),
    (re.compile(r"\.\.\."), " ... "),
    (re.compile(r"[,;:@#$%&]"), r" \g<0> "),
    (re.compile(r'([^.])(\.)([\])}>"\']*)\s*$'), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"[\])}>(\[{<]"), r" \g<0> "),
    (re.compile(r"--"), " -- "),
    (re.compile(r'"'), " '' "),
    (re.compile(r"([^' ])('[sS]|'[mM]|'[dD]|') "), r"\1 \2 "),
    (re.compile(r"([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r"\1 \2 "),
    (re.compile(r"(?i)\b(can)(not)\b"), r" \1 \2 "),
    (re.compile(r"(?i)\b(d)('ye)\b"), r" \1 \2 "),
    (re.compile(r"(?i)\b(gim)(me)\b"), r" \1 \2 "),
    (re.compile(r"(?i)\b(gon)(na)\b"), r" \1 \2 "),
    (re.compile(r"(?i)\b(got)(ta)\b"), r" \1 \2 "),
    (re.compile(r"(?i)\b(lem)(me)\b"), r" \1 \2 "),
    (re.compile(r"(?i)\b(mor)('n)\b"), r" \1 \2 "),
    (re.compile(r"(?i)\b(wan)(na) "), r" \1 \2 "),
    (re.compile(r"(?i) ('t)(is)\b"), r" \1 \2 "),
    (re.compile(r"(?i) ('t)(was)\b"), r" \1 \2 "),
]


def treebank_tokens(text: str) -> list[str]:
    """``text`` in Penn-Treebank-style tokens (punctuation and contractions split off)."""
    out = " " + text + " "
    for pattern, repl in _TREEBANK:
        out = pattern.sub(repl, out)
    return out.split()


def rouge_1(candidate: str, reference: str) -> float:
    """js-rouge's ``n`` (ROUGE-1, F-measure with beta 1) over Treebank tokens, ignoring case: the
    unique unigrams the two share, over each side's unigram count."""
    cand = treebank_tokens(candidate.lower())
    ref = treebank_tokens(reference.lower())
    if not cand or not ref:
        return 0.0
    matches = len(set(cand) & set(ref))
    if not matches:
        return 0.0
    precision, recall = matches / len(cand), matches / len(ref)
    return 2 * precision * recall / (precision + recall)


def _rouge_n(spec: Mapping[str, Any], s: Subject, judge: Judge, inverse: bool) -> Outcome:
    value = _required(spec, "rouge-n")
    if isinstance(value, (list, dict)) or isinstance(value, bool):
        raise AssertionSetupError("rouge-n needs one reference text (promptfoo's rouge-n takes a single string)")
    reference = _text(value)
    if not reference.strip():
        raise AssertionSetupError("rouge-n needs a non-empty reference text")
    if not s.output.strip():
        return False, 0.0, "ROUGE-N: the output is empty"
    limit = _threshold(spec, DEFAULT_ROUGE, "rouge-n")
    score = rouge_1(s.output, reference)
    ok = score >= limit
    return ok, score, f"ROUGE-N {score:.4f} {'>=' if ok else '<'} {limit:g}"


CHECKS = {"bleu": _bleu, "rouge-n": _rouge_n}
