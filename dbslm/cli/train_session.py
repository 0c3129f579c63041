"""One ``dbslm train`` run's builds: chunks gather into a batch that trains as one build, and
probes follow the builds."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field

from dbslm.cli.common import token_count
from dbslm.cli.ingest import Chunk, Reading, Source, chunks, is_dialog
from dbslm.cli.probes import Probe, Prober, describe
from dbslm.cli.profile import profile_line
from dbslm.cli.progress import Progress
from dbslm.domain import ModelInfo
from dbslm.reply.association import Association, fit_weight, refresh_vectors
from dbslm.store import Store
from dbslm.store.pairs import PairStore
from dbslm.text.tokenize import get_tokenizer
from dbslm.training.builds import TrainReport
from dbslm.training.teaching import teach


class TrainSession:
    """One run's builds: chunks gather into a batch that is trained as one build (at every
    chunk with --json-chunk-size, else once at the end), and probes follow the builds."""

    def __init__(
        self,
        store: Store,
        model: ModelInfo,
        args: argparse.Namespace,
        reading: Reading,
        progress: Progress,
        probe_set: tuple[str, list[tuple[str, str]]],
    ) -> None:
        self.store, self.model, self.args, self.reading, self.progress = store, model, args, reading, progress
        self.tokenize = get_tokenizer(model.tokenizer).tokenize
        self.prober = Prober(store, model.name)
        self.dataset, self.prompts = probe_set  # the interval probes' dataset and prompts
        self.reports: list[TrainReport] = []
        self.tokens = 0  # trained in this run
        self.probed_at = 0
        self.probe_seconds = 0.0
        self.batch = Batch()
        self.pairs_changed = False  # the model's pairs changed: its association is to be recounted
        self.association: Association | None = None  # what the run's one build wrote

    async def ingest(self, source: Source) -> None:
        """Read, tokenize and (in chunked runs) train one source, with its summary line."""
        started, probing = time.perf_counter(), self.probe_seconds
        stream = chunks(source, self.reading, self.progress.read)
        items = held = tokens = 0
        self.progress.reading(source.path.name)
        while (chunk := await asyncio.to_thread(next, stream, None)) is not None:
            sentences, dialog = await asyncio.to_thread(self._tokenize, chunk)
            found = token_count(sentences) + sum(len(p) + len(r) for p, r in dialog)
            self.batch.rows += chunk.rows
            if found < self.model.order:
                self.progress.echo(f"skipping {chunk.label}: {found} tokens, fewer than the order {self.model.order}")
                continue
            self.batch.take(chunk, sentences, dialog)
            items += len(dialog) or len(sentences)
            held += len(chunk.held_out)
            tokens += found
            if self.reading.chunk_rows is not None:
                await self.commit()
                if not chunk.last:
                    self.progress.reading(source.path.name)
        if tokens:
            what = "prompt/response pairs" if is_dialog(source.path) else "sentences"
            aside = f" ({held:,} held out for evaluation)" if held else ""
            self.progress.echo(f"{source.path}: {items:,} {what}{aside}, {tokens:,} tokens")
        if self.args.profile_ingest:
            seconds = source.seconds + time.perf_counter() - started - (self.probe_seconds - probing)
            self.progress.echo(profile_line(str(source.path), seconds, source.rows, tokens))

    def _tokenize(self, chunk: Chunk) -> tuple[list[list[str]], list[tuple[list[str], list[str]]]]:
        """The token lists of a chunk's text lines and of its pairs to train."""
        return (
            [t for t in map(self.tokenize, chunk.lines) if t],
            [(self.tokenize(p), self.tokenize(r)) for p, r in chunk.pairs],
        )

    async def commit(self) -> None:
        """Train the pending batch as one build (the first one resets with --reset), keep its
        pairs for retrieval, then probe."""
        if not self.batch.sentences and not self.batch.dialog:
            return
        batch, self.batch = self.batch, Batch()
        started = time.perf_counter()
        first = not self.reports
        reset = self.args.reset and first

        whole = self.reading.chunk_rows is None  # one build: it counts the association (a chunked run, once after)
        report, association = await teach(
            self.store,
            self.model,
            batch.pairs,
            "train",
            sentences=batch.sentences,
            dialog=batch.dialog,
            reset=reset,
            associate=whole,
            head_size=self.args.head_size,
            progress=self.progress.stage,
        )
        if whole:
            self.association = association
        self.pairs_changed = self.pairs_changed or reset or bool(batch.pairs)
        self.reports.append(report)
        self.tokens += report.tokens
        self.progress.built(report.tokens)
        if self.args.profile_ingest and self.reading.chunk_rows is None:
            self.progress.echo(
                profile_line(f"build {report.build}", time.perf_counter() - started, batch.rows, report.tokens)
            )
        await self._probe(batch)

    async def refresh_vectors(self) -> None:
        """After a run that changed the model's pairs: fit its prompt weight to the vectors its
        build wrote, or (a chunked run) count them first."""
        if not self.pairs_changed:
            return
        pairs, trained = PairStore(self.store.db), await self.store.models.model(self.model.name)
        if self.association is None:
            self.progress.stage("counting word vectors")
            await refresh_vectors(pairs, trained.id, self.tokenize)
        else:
            self.progress.stage("fitting the prompt weight")
            await fit_weight(pairs, trained.id, self.association.vectors, self.tokenize)

    async def _probe(self, batch: Batch) -> None:
        started = time.perf_counter()
        if batch.held_out:
            self._show(await self.prober.probe("held-out", batch.held_out, self.tokens, batch.label))
        if self.prompts and self.tokens - self.probed_at >= self.args.eval_interval:
            self.probed_at = self.tokens
            self._show(await self.prober.probe("interval", self.prompts, self.tokens, self.dataset))
        self.probe_seconds += time.perf_counter() - started

    def _show(self, probe: Probe) -> None:
        self.progress.echo(
            f"probe {probe.index} ({probe.kind}, {probe.source}, build {probe.build}, "
            f"after {probe.tokens:,} tokens): {describe(probe.as_json()['averages'])}"
        )


@dataclass
class Batch:
    """What the next build trains: token lists, the pairs to keep, rows held out."""

    rows: int = 0  # input rows read since the last build (trained, held out or skipped)
    sentences: list[list[str]] = field(default_factory=list)
    dialog: list[tuple[list[str], list[str]]] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    held_out: list[tuple[str, str]] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.labels[0] if len(self.labels) == 1 else f"{len(self.labels)} inputs"

    def take(self, chunk: Chunk, sentences: list[list[str]], dialog: list[tuple[list[str], list[str]]]) -> None:
        """Add a chunk: its token lists, its pairs and its held-out rows."""
        self.sentences += sentences
        self.dialog += dialog
        self.pairs += chunk.pairs
        self.held_out += chunk.held_out
        self.labels.append(chunk.label)
