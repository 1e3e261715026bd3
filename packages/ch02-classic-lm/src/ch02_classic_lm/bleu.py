"""Corpus BLEU (Papineni et al. 2002) with sacrebleu's defaults, and ROUGE-1/2/L.

BLEU: sentences are tokenised with the WMT ``13a`` rules (mteval-v13a: punctuation split off,
periods and commas kept inside numbers, dashes after digits split); clipped n-gram matches for
n = 1..4 are summed over the corpus, the geometric mean of the four precisions is multiplied by
the brevity penalty ``exp(1 - r / c)`` when the hypotheses are shorter than the references, and a
zero match count is smoothed as sacrebleu's ``exp`` method does (``1 / (2^k * total)`` for the
k-th zero). With several references the closest reference length counts, as in sacrebleu.

ROUGE (Lin 2004) as in Google's ``rouge-score``: lower-cased alphanumeric tokens, n-gram overlap
F-measure for ROUGE-1/2 and longest-common-subsequence F-measure for ROUGE-L.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from llmpath_core import UserError

_13A = [
    (re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
    (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
    (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
    (re.compile(r"([0-9])(-)"), r"\1 \2 "),
]


def tokenize_13a(line: str) -> list[str]:
    """mteval-v13a tokenisation, as sacrebleu's default tokenizer."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        line = (
            line.replace("&quot;", '"')
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
        )
    line = f" {line} "
    for pattern, repl in _13A:
        line = pattern.sub(repl, line)
    return line.split()


def _ngrams(tokens: Sequence[str], n: int) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def corpus_bleu(
    hypotheses: Sequence[str], references: Sequence[str] | Sequence[Sequence[str]], max_n: int = 4
) -> dict:
    """Corpus BLEU on the 0-100 scale with its parts. ``references``: one string per hypothesis,
    or several reference streams (each a list as long as ``hypotheses``)."""
    streams = [references] if references and isinstance(references[0], str) else list(references)
    for stream in streams:
        if len(stream) != len(hypotheses):
            raise UserError(
                f"{len(hypotheses)} hypotheses but {len(stream)} references: "
                "give one reference line per hypothesis line"
            )
    matches = [0] * max_n
    totals = [0] * max_n
    hyp_len = ref_len = 0
    for i, hyp in enumerate(hypotheses):
        h = tokenize_13a(hyp)
        refs = [tokenize_13a(stream[i]) for stream in streams]
        hyp_len += len(h)
        ref_len += min((abs(len(r) - len(h)), len(r)) for r in refs)[1]
        for n in range(1, max_n + 1):
            counts = _ngrams(h, n)
            best: Counter = Counter()
            for r in refs:
                best |= _ngrams(r, n)
            matches[n - 1] += sum(min(c, best[g]) for g, c in counts.items())
            totals[n - 1] += max(len(h) - n + 1, 0)
    precisions = [0.0] * max_n
    smooth = 1.0
    for n in range(max_n):
        if totals[n] == 0:
            break
        if matches[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * totals[n])
        else:
            precisions[n] = 100.0 * matches[n] / totals[n]
    bp = 0.0 if hyp_len == 0 else 1.0 if hyp_len >= ref_len else math.exp(1 - ref_len / hyp_len)
    if min(precisions) <= 0:
        score = 0.0
    else:
        score = bp * math.exp(sum(math.log(p) for p in precisions) / max_n)
    return {
        "bleu": score,
        "precisions": precisions,
        "brevity_penalty": bp,
        "hyp_len": hyp_len,
        "ref_len": ref_len,
        "sentences": len(hypotheses),
    }


_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str) -> list[str]:
    """rouge-score's default tokenisation (no stemming)."""
    return [t for t in _NON_ALNUM.sub(" ", text.lower()).split() if t]


def _f(overlap: int, hyp: int, ref: int) -> dict:
    p = overlap / hyp if hyp else 0.0
    r = overlap / ref if ref else 0.0
    f = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return {"precision": p, "recall": r, "fmeasure": f}


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def rouge(hypothesis: str, reference: str) -> dict[str, dict]:
    """ROUGE-1, ROUGE-2 and ROUGE-L of one hypothesis against one reference."""
    h, r = rouge_tokens(hypothesis), rouge_tokens(reference)
    out = {}
    for n in (1, 2):
        hc, rc = _ngrams(h, n), _ngrams(r, n)
        out[f"rouge{n}"] = _f(sum((hc & rc).values()), sum(hc.values()), sum(rc.values()))
    out["rougeL"] = _f(_lcs(h, r), len(h), len(r))
    return out


def corpus_rouge(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE F-measures over sentence pairs."""
    if len(hypotheses) != len(references):
        raise UserError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        return {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    scores = [rouge(h, r) for h, r in zip(hypotheses, references, strict=False)]
    return {
        k: sum(s[k]["fmeasure"] for s in scores) / len(scores)
        for k in ("rouge1", "rouge2", "rougeL")
    }
