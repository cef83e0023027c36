"""``bleu`` and ``rouge-n``: overlap of the output with reference texts, scored as promptfoo scores them.

Neither is a textbook metric that a library reproduces: promptfoo computes BLEU itself (tokens are
the lower-cased output split on white space, punctuation attached; clipped n-gram counts against each
reference taken whole, the best reference's total kept; a precision of 0 read as 1e-7; orders the
output is too short for skipped) and ROUGE through js-rouge (ROUGE-1 F-measure over the Treebank
tokens of each sentence, ignoring case, matching unigrams counted with their repeats). A library's BLEU (sacrebleu, NLTK) or ROUGE
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

# js-rouge 3.2's Penn Treebank tokenizer, step by step: ellipses, separators (not a comma or colon
# before a digit), the final period, ? and !, brackets, dashes; then quotes and contractions
_TREEBANK = [
    (re.compile(r"\.{3}"), " ... "),
    (re.compile(r"[:,](?!\d)"), r" \g<0> "),
    (re.compile(r"[;@#$%&]"), r" \g<0> "),
    (re.compile(r"([^.])(?<!\b[A-Za-z]\.[A-Za-z])(\.)([\])}>'\s]*)$"), r"\1 \2\3 "),
    (re.compile(r"[?!]"), r" \g<0> "),
    (re.compile(r"[\][(){}<>]"), r" \g<0> "),
    (re.compile(r"--"), " -- "),
]
_CONTRACTIONS = [
    (re.compile(r"([^'])' "), r"\1 ' "),
    (re.compile(r"'([sSmMdD]) "), r" '\1 "),
    (re.compile(r"('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) "), r" \1 "),
    *((re.compile(rf"(?<![\w\u200c\u200d]){w}(?![\w\u200c\u200d])", re.I), r" \1 \2 ") for w in (
        "(can)(not)", "(d)('ye)", "(gim)(me)", "(gon)(na)", "(got)(ta)", "(lem)(me)", "(more)('n)",
        "(wan)(na)(?= )", "('t)(is)", "('t)(was)")),
]
_QUOTE = re.compile(r"``|''|\"")
_SENTENCE = re.compile(r"[\r\n]+|(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]*[A-Z0-9])")


def treebank_tokens(text: str) -> list[str]:
    """``text`` (one sentence) in Penn-Treebank-style tokens, as js-rouge's ``treeBankTokenize``:
    punctuation, quotes and contractions split off."""
    out = re.sub(r"[\s\u0085]+", " ", text).strip()
    if not out:
        return []

    def quote(m: re.Match[str]) -> str:  # an opening quote is ``, a closing one ''
        i = m.start()
        opening = m.group() == "``" or i == 0 or out[i - 1] in " ([{<"
        return " `` " if opening else " '' "

    out = _QUOTE.sub(quote, out)
    for pattern, repl in _TREEBANK:
        out = pattern.sub(repl, out)
    out = f" {out} "
    for pattern, repl in _CONTRACTIONS:
        out = pattern.sub(repl, out)
    return out.split()


def sentences(text: str) -> list[str]:
    """``text`` cut into sentences: at line breaks, and after . ! or ? followed by space and a capital
    or a digit (js-rouge's segmenter also knows abbreviations such as "Mr."; this one does not)."""
    return [s for s in _SENTENCE.split(text) if s.strip()]


def rouge_1(candidate: str, reference: str) -> float:
    """js-rouge's ``n`` (ROUGE-1, F-measure with beta 1) ignoring case, as promptfoo calls it: each
    text cut into sentences and Treebank tokens, matching unigrams counted with their repeats (a
    reference token matches once), over each side's token count."""
    cand = [t for s in sentences(candidate) for t in treebank_tokens(s.lower())]
    ref = [t for s in sentences(reference) for t in treebank_tokens(s.lower())]
    if not cand or not ref:
        return 0.0
    matches = sum((Counter(cand) & Counter(ref)).values())
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
