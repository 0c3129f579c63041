"""Evaluation probes during training: prompts answered through ``respond()`` and scored.

Every sample gets lexical overlap and ROUGE-L F1 of its reply against the reference (an
empty reply scores 0; nothing pads it) and the perplexity of the reference under the model
at that moment, computed with :mod:`dbslm.evaluation` exactly as ``dbslm eval`` computes it
(KenLM's definition: every word and one ``</s>``, OOVs included). A probe's and the run's
perplexity pool their samples' log-probabilities and tokens, as scoring them together would.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dbslm import metrics
from dbslm.cli.common import written_whole
from dbslm.config import load_settings
from dbslm.errors import DbslmError
from dbslm.evaluation import MAX_ATTEMPTS, token_scores, trained_model
from dbslm.ngram.scoring import Perplexity, perplexity
from dbslm.store import Store
from dbslm.text.dialogs import Pair, stream_pairs
from dbslm.text.tokenize import get_tokenizer
from dbslm.text.vocab import Vocabulary

if TYPE_CHECKING:
    from dbslm.engine import DBSLMEngine

PROBE_USER = "train-probe"
SAMPLE_SEED = 0


def probe_prompts(
    dataset: Path, pool_size: int, samples: int, encoding: str = "utf-8", max_line_chars: int = 1_000_000
) -> list[Pair]:
    """``samples`` rows drawn with a fixed seed from the first ``pool_size`` rows of ``dataset``
    (the same rows at every probe, so probes compare)."""
    pool = list(stream_pairs(dataset, encoding, max_line_chars, pool_size))
    if not pool:
        raise DbslmError(f"{dataset}: no prompt/response pairs to probe with")
    return random.Random(SAMPLE_SEED).sample(pool, min(samples, len(pool)))


@dataclass
class Sample:
    """One prompt, its reference and the model's reply, scored."""

    prompt: str
    reference: str
    reply: str
    lexical_overlap: float
    rouge_l_f1: float
    perplexity: Perplexity | None  # of the reference; None when it has no tokens

    def as_json(self) -> dict[str, object]:
        ppl = self.perplexity
        return {
            "prompt": self.prompt,
            "reference": self.reference,
            "reply": self.reply,
            "lexical_overlap": self.lexical_overlap,
            "rouge_l_f1": self.rouge_l_f1,
            "perplexity": _finite(ppl.including_oovs) if ppl else None,
            "tokens": ppl.tokens if ppl else 0,
            "oovs": ppl.oovs if ppl else 0,
        }


@dataclass
class Probe:
    """The samples of one probe and where in the run it was taken."""

    index: int
    kind: str  # "interval" (the dataset's prompts) or "held-out" (a chunk's held-out rows)
    build: int
    tokens: int  # tokens trained so far in this run
    source: str
    samples: list[Sample]

    def as_json(self) -> dict[str, object]:
        return {
            "index": self.index,
            "kind": self.kind,
            "build": self.build,
            "tokens_trained": self.tokens,
            "source": self.source,
            "averages": averages(self.samples),
            "samples": [s.as_json() for s in self.samples],
        }


def averages(samples: list[Sample]) -> dict[str, float | int | None]:
    """Mean overlap and ROUGE-L over ``samples``, and their pooled perplexity."""
    n = len(samples)
    scored = [s.perplexity for s in samples if s.perplexity is not None]
    pooled = Perplexity(
        sum(p.log10_prob for p in scored),
        sum(p.tokens for p in scored),
        sum(p.oovs for p in scored),
        sum(p.log10_prob_excluding_oovs for p in scored),
    )
    return {
        "samples": n,
        "lexical_overlap": sum(s.lexical_overlap for s in samples) / n if n else 0.0,
        "rouge_l_f1": sum(s.rouge_l_f1 for s in samples) / n if n else 0.0,
        "perplexity": _finite(pooled.including_oovs),
    }


def describe(figures: dict[str, float | int | None]) -> str:
    """Averages as printed: the same rounding everywhere."""
    ppl = figures["perplexity"]
    return (
        f"{figures['samples']} samples, lexical overlap {figures['lexical_overlap']:.4f}, "
        f"ROUGE-L {figures['rouge_l_f1']:.4f}, perplexity {'n/a' if ppl is None else f'{ppl:.2f}'}"
    )


class Prober:
    """Takes probes of one model during a run and keeps its timeline."""

    def __init__(self, store: Store, model: str) -> None:
        self.store, self.model_name = store, model
        self.engine: DBSLMEngine | None = None  # made by the first probe: a run without probes never imports it
        self.probes: list[Probe] = []

    async def probe(self, kind: str, pairs: list[Pair], tokens: int, source: str) -> Probe:
        """Answer every prompt of ``pairs`` (its own conversation, seed = its position) and
        score the replies and references."""
        if self.engine is None:
            from dbslm.engine import DBSLMEngine  # a third of a training's imports

            self.engine = DBSLMEngine(self.store, self.model_name, embedder=load_settings().embedder_model)
        replies = []
        for i, (prompt, _) in enumerate(pairs):
            conversation = await self.engine.start_conversation(PROBE_USER)
            reply = await self.engine.respond(conversation, prompt, seed=i, user_id=PROBE_USER)
            replies.append("" if reply.concept == "no_answer" else reply.text)
        build, perplexities = await self._perplexities([r for _, r in pairs])
        samples = await asyncio.to_thread(
            lambda: [
                Sample(p, ref, reply, metrics.lexical_overlap(reply, ref), metrics.rouge_l_f1(reply, ref), ppl)
                for (p, ref), reply, ppl in zip(pairs, replies, perplexities)
            ]
        )
        probe = Probe(len(self.probes) + 1, kind, build, tokens, source, samples)
        self.probes.append(probe)
        return probe

    def summary(self) -> dict[str, float | int | None]:
        """The run-level averages over every sample of every probe."""
        return averages([s for p in self.probes for s in p.samples])

    def export(self, path: Path, header: dict[str, object]) -> None:
        """Write ``header``, the timeline of probes and the summary as one JSON file."""
        document = {**header, "probes": [p.as_json() for p in self.probes], "summary": self.summary()}
        with written_whole(path, "the metrics") as partial:
            partial.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    async def _perplexities(self, references: list[str]) -> tuple[int, list[Perplexity | None]]:
        """The active build and each reference's perplexity under it (one look-up for all);
        read again when another process switched builds meanwhile."""
        for _ in range(MAX_ATTEMPTS):
            model = await trained_model(self.store, self.model_name)
            tokenize = get_tokenizer(model.tokenizer).tokenize
            vocab = await self.store.models.vocabulary(model)
            parts = await asyncio.to_thread(_encoded, vocab, tokenize, references)
            ids = np.concatenate([np.zeros(0, dtype=np.int64), *parts])
            scores = await token_scores(self.store, model, ids) if len(ids) else ids
            if scores is None:
                continue
            ends = np.cumsum([len(p) for p in parts])
            return model.active_build, [
                perplexity(p, scores[end - len(p) : end]) if len(p) else None for p, end in zip(parts, ends)
            ]
        raise DbslmError(f"model {self.model_name!r} kept changing while it was probed; try again")


def _finite(value: float) -> float | None:
    """``value``, or None where it is NaN (no tokens): JSON has no NaN."""
    return None if value != value else value


def _encoded(vocab: Vocabulary, tokenize: Callable[[str], list[str]], texts: list[str]) -> list[np.ndarray]:
    """The token ids of each text, apart."""
    return [vocab.encode([tokenize(text)], grow=False) for text in texts]
