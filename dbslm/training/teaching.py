"""Pairs taught to a model (a dialog file, the starter set, an admin's upload, an approved
correction): a training writes them, and the word vectors counted with them, in the switch to
the build that learned them; forgetting the person who taught some subtracts them the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from itertools import groupby
from operator import itemgetter

from dbslm.domain import ModelInfo
from dbslm.errors import DbslmError
from dbslm.ngram.heads import DEFAULT_HEAD_SIZE
from dbslm.reply.association import NOTHING, Association, association_after, write_association
from dbslm.store import Store
from dbslm.store.database import Transaction
from dbslm.store.pairs import PairStore
from dbslm.store.queue import QueueStore
from dbslm.text.tokenize import get_tokenizer
from dbslm.training.builds import TrainReport, quiet, train, untrain


async def teach(
    store: Store,
    model: ModelInfo,
    pairs: Sequence[tuple[str, str]],
    source: str,
    user_id: str | None = None,
    *,
    sentences: Iterable[list[str]] = (),
    dialog: list[tuple[list[str], list[str]]] | None = None,
    reset: bool = False,
    associate: bool = True,
    head_size: int = DEFAULT_HEAD_SIZE,
    progress: Callable[[str], None] = quiet,
) -> tuple[TrainReport, Association | None]:
    """Learn ``sentences`` and prompt/response ``pairs`` (each the sequence ``<s> prompt <sep>
    response </s>``; ``dialog`` holds their token lists when the caller has them) in one build,
    keeping the pairs for retrieval under ``source`` (and ``user_id``, who taught them). With
    ``reset`` the model starts from nothing: its pairs and channel messages go in the switch.

    The switch also writes the association counted with the pairs, unless not ``associate``
    (a run of many builds counts it once after them: :func:`refresh_vectors`); returns the
    report and the association written (None when none was)."""
    tokenize = get_tokenizer(model.tokenizer).tokenize
    if dialog is None:
        dialog = await asyncio.to_thread(lambda: [(tokenize(p), tokenize(r)) for p, r in pairs])
    association = NOTHING if reset else None
    if associate and (pairs or reset):
        progress("counting word vectors")
        association = await association_after(PairStore(store.db), model.id, tokenize, added=dialog, replacing=reset)

    async def switch(tx: Transaction, model_id: int) -> None:
        """The build's pairs and association (and, from scratch, the old ones gone) go live with it, or
        nothing does."""
        if reset:
            await QueueStore.clear(tx, model_id)
            await PairStore.clear_pairs(tx, model_id)
        await PairStore.add_pairs(tx, model_id, pairs, source, user_id)
        if association is not None:
            await write_association(tx, model_id, association)

    report = await train(
        store, model, sentences, dialog=dialog, reset=reset, head_size=head_size, progress=progress, on_switch=switch
    )
    return report, association


async def unteach(store: Store, user_id: str, model_name: str | None = None) -> int:
    """Subtract the pairs ``user_id`` taught from every model that holds some (or the one
    named), each model in one build whose switch deletes them and writes the word vectors
    counted without them; returns how many pairs were subtracted. A model that has no counts
    to subtract from (imported from ARPA) keeps its n-grams: only its pairs are deleted, by
    the forgetting that called this."""
    stored = PairStore(store.db)
    scope = await store.models.model(model_name) if model_name else None
    if model_name and scope is None:
        return 0
    subtracted = 0
    taught = await stored.taught_pairs(user_id, scope.id if scope else None)
    for name, rows in groupby(taught, key=itemgetter(0)):
        model = await store.models.model(name)
        if model is not None and model.active_build is not None and model.source != "arpa":
            subtracted += await _subtract(store, stored, model, [(pair_id, p, r) for _, pair_id, p, r in rows])
    return subtracted


async def _subtract(store: Store, stored: PairStore, model: ModelInfo, pairs: list[tuple[int, str, str]]) -> int:
    """Untrain ``pairs`` (id, prompt, response) of ``model``, deleting them in the switch."""
    tokenize = get_tokenizer(model.tokenizer).tokenize
    dialog = await asyncio.to_thread(lambda: [(tokenize(p), tokenize(r)) for _, p, r in pairs])
    ids = [pair_id for pair_id, _, _ in pairs]
    association = await association_after(stored, model.id, tokenize, removed_ids=set(ids))

    async def switch(tx: Transaction, model_id: int) -> None:
        if await PairStore.delete_pairs(tx, ids) != len(ids):
            raise DbslmError("the pairs to forget changed meanwhile; nothing was changed: try again")
        await write_association(tx, model_id, association)

    await untrain(store, model, dialog=dialog, on_switch=switch)
    return len(ids)
