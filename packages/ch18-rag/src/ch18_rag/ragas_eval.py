"""ragas on our RAG answers: the non-LLM metrics next to our own, and the LLM metrics with a judge.

Non-LLM: ours are in :mod:`ch18_rag.metrics` (``string_similarity``, ``context_precision``,
``context_recall``); each retrieved sample is scored by both.

LLM metrics (:func:`ragas_llm_scores`, :func:`ragas_llm_eval`) are ragas' own
``ragas.metrics.collections`` implementations -- Faithfulness, ContextPrecisionWithReference,
ContextRecall and, given an embedder, AnswerRelevancy (our MiniLM behind a small ragas embeddings
wrapper) -- with ragas' LLM pointed at any OpenAI-compatible endpoint (:class:`Judge`) through
``ragas.llms.llm_factory`` and an ``openai.AsyncOpenAI(base_url=...)`` client. We compute none of
the LLM numbers ourselves: ragas sends its prompts, parses the judge's JSON and does the arithmetic.
"""

from __future__ import annotations

import asyncio
import logging
import os
import urllib.error
import urllib.request
from dataclasses import dataclass

from ch18_rag.metrics import context_precision, context_recall, string_similarity


def ragas_scores(
    response: str, reference: str, retrieved: list[str], references: list[str]
) -> dict[str, float]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from ragas.dataset_schema import SingleTurnSample
        from ragas.metrics import (
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
        )

    sample = SingleTurnSample(
        user_input="",
        response=response,
        reference=reference,
        retrieved_contexts=retrieved,
        reference_contexts=references,
    )

    async def score() -> dict[str, float]:
        return {
            "string_similarity": await NonLLMStringSimilarity().single_turn_ascore(sample),
            "context_precision": await NonLLMContextPrecisionWithReference().single_turn_ascore(
                sample
            ),
            "context_recall": await NonLLMContextRecall().single_turn_ascore(sample),
        }

    return asyncio.run(score())


def our_scores(
    response: str, reference: str, retrieved: list[str], references: list[str]
) -> dict[str, float]:
    return {
        "string_similarity": string_similarity(response, reference),
        "context_precision": context_precision(retrieved, references),
        "context_recall": context_recall(retrieved, references),
    }


def ragas_parity(retriever, items, k: int = 3) -> dict[str, float]:
    """Mean of each metric, ours and ragas', and the largest per-sample difference."""
    from ch18_rag.reader import ExtractiveReader

    reader = ExtractiveReader()
    ours, theirs, worst = {}, {}, 0.0
    for item in items:
        hits = retriever.search(item.question, k=k)
        answer = reader.answer(item.question, hits).answer
        # sentence-level contexts: each hit's best sentence for the question (ragas' string
        # similarity compares whole strings, so a 200-token chunk never "matches" one sentence)
        contexts = [reader.answer(item.question, [h]).sentence or h.text for h in hits]
        args = (answer, item.answer, contexts, [item.gold])
        a, b = our_scores(*args), ragas_scores(*args)
        for key in a:
            ours[key] = ours.get(key, 0.0) + a[key] / len(items)
            theirs[key] = theirs.get(key, 0.0) + b[key] / len(items)
            worst = max(worst, abs(a[key] - b[key]))
    out = {f"ours {k}": round(v, 4) for k, v in ours.items()}
    out.update({f"ragas {k}": round(v, 4) for k, v in theirs.items()})
    out["max abs diff"] = worst
    return out


@dataclass
class Judge:
    """An OpenAI-compatible ``/v1`` endpoint (vLLM, llama.cpp, Ollama, OpenAI) serving ``model``."""

    url: str
    model: str
    api_key: str | None = None
    timeout: float = 120.0

    def check(self) -> None:
        """Fail fast, in one line, when nothing answers at ``url`` (any HTTP reply is fine)."""
        from llmpath_core import UserError

        try:
            urllib.request.urlopen(self.url.rstrip("/") + "/models", timeout=10).close()
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise UserError(
                f"judge {self.url}: cannot reach the endpoint ({getattr(exc, 'reason', exc)})"
            ) from None


def _ragas_embeddings(embedder):
    """Our :class:`~ch18_rag.embeddings.Embedder` (MiniLM) as a ragas ``BaseRagasEmbedding``."""
    from ragas.embeddings.base import BaseRagasEmbedding

    class OurEmbeddings(BaseRagasEmbedding):
        def embed_text(self, text: str, **kwargs) -> list[float]:
            return embedder.encode([text])[0].astype(float).tolist()

        async def aembed_text(self, text: str, **kwargs) -> list[float]:
            return self.embed_text(text)

        def embed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
            return embedder.encode(list(texts)).astype(float).tolist()

        async def aembed_texts(self, texts: list[str], **kwargs) -> list[list[float]]:
            return self.embed_texts(texts)

    return OurEmbeddings()


LLM_METRICS = ("faithfulness", "llm_context_precision", "llm_context_recall", "answer_relevancy")


def ragas_llm_scores(samples: list[dict], judge: Judge, embedder=None) -> list[dict[str, float]]:
    """ragas' LLM metrics for each sample (keys ``user_input``, ``response``,
    ``retrieved_contexts``, ``reference``), judged by ``judge``; ``answer_relevancy`` only with an
    ``embedder``. Judge failures (unreachable, HTTP errors, unparseable answers) -> one-line
    :class:`~llmpath_core.UserError`."""
    import warnings

    from llmpath_core import UserError

    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")  # no usage pings from an offline box
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import openai
        from instructor.core.exceptions import InstructorError
        from ragas.llms import llm_factory
        from ragas.metrics.collections import (
            AnswerRelevancy,
            ContextPrecisionWithReference,
            ContextRecall,
            Faithfulness,
        )

    embeddings = _ragas_embeddings(embedder) if embedder is not None else None

    async def score_all() -> list[dict[str, float]]:
        client = openai.AsyncOpenAI(
            base_url=judge.url,
            api_key=judge.api_key or "none",
            timeout=judge.timeout,
            max_retries=0,
        )
        llm = llm_factory(judge.model, client=client)
        faithfulness = Faithfulness(llm=llm)
        precision = ContextPrecisionWithReference(llm=llm)
        recall = ContextRecall(llm=llm)
        relevancy = AnswerRelevancy(llm=llm, embeddings=embeddings) if embeddings else None
        out = []
        try:
            for s in samples:
                q, a, ctx, ref = (
                    s["user_input"],
                    s["response"],
                    s["retrieved_contexts"],
                    s["reference"],
                )
                row = {
                    "faithfulness": (
                        await faithfulness.ascore(user_input=q, response=a, retrieved_contexts=ctx)
                    ).value,
                    "llm_context_precision": (
                        await precision.ascore(user_input=q, reference=ref, retrieved_contexts=ctx)
                    ).value,
                    "llm_context_recall": (
                        await recall.ascore(user_input=q, retrieved_contexts=ctx, reference=ref)
                    ).value,
                }
                if relevancy is not None:
                    row["answer_relevancy"] = (
                        await relevancy.ascore(user_input=q, response=a)
                    ).value
                out.append({k: float(v) for k, v in row.items()})
        finally:
            await client.close()
        return out

    def api_error(exc: BaseException | None):
        """The openai error behind ``exc`` (instructor wraps them in its retry exception)."""
        seen = set()
        while exc is not None and id(exc) not in seen:
            if isinstance(exc, openai.APIError):
                return exc
            seen.add(id(exc))
            exc = exc.__cause__ or exc.__context__
        return None

    quiet = logging.getLogger("instructor")
    level, quiet.level = quiet.level, logging.CRITICAL  # its retry log would add stderr lines
    try:
        return asyncio.run(score_all())
    except (openai.APIError, InstructorError) as exc:
        cause = api_error(exc)
        if cause is not None:
            what = (
                "cannot reach the endpoint"
                if isinstance(cause, openai.APIConnectionError)
                else type(cause).__name__
            )
            detail = " ".join(str(cause).split())[:200]
            raise UserError(f"judge {judge.url}: {what} ({detail})") from None
        raise UserError(
            f"judge {judge.url} ({judge.model}): no valid JSON answer after retries: "
            + " ".join(str(exc).split())[:200]
        ) from None
    finally:
        quiet.setLevel(level)


def ragas_llm_eval(
    retriever, items, judge: Judge, k: int = 3, embedder=None
) -> dict[str, float | int | str]:
    """Answer each item with hybrid retrieval + the extractive reader, then average ragas' LLM
    metrics over the items (contexts: the top-``k`` chunks; reference: the gold answer)."""
    from ch18_rag.reader import ExtractiveReader

    judge.check()
    reader = ExtractiveReader()
    samples = []
    for item in items:
        hits = retriever.search(item.question, k=k)
        samples.append(
            {
                "user_input": item.question,
                "response": reader.answer(item.question, hits).answer or "no answer",
                "retrieved_contexts": [h.text for h in hits],
                "reference": item.answer,
            }
        )
    rows = ragas_llm_scores(samples, judge, embedder=embedder)
    out: dict[str, float | int | str] = {"judge": judge.model, "samples": len(rows)}
    for key in LLM_METRICS:
        values = [r[key] for r in rows if key in r]
        if values:
            out[key] = round(sum(values) / len(values), 4)
    return out


__all__ = [
    "LLM_METRICS",
    "Judge",
    "our_scores",
    "ragas_llm_eval",
    "ragas_llm_scores",
    "ragas_parity",
    "ragas_scores",
]
