"""Administration of a store's models: what a model holds, and moving its coldest contexts to
MariaDB (flush). The command line and the bot's /stats and /flush both call these."""

from __future__ import annotations

from collections.abc import Callable

from dbslm.errors import DbslmError
from dbslm.evaluation import trained_model
from dbslm.store import Store
from dbslm.store.cold import FlushReport
from dbslm.training.builds import quiet


async def stats(store: Store, name: str) -> dict[str, object]:
    """The model's order, tokenizer, build, n-grams per order, tokens and build time (just
    ``trained`` False when it has no build)."""
    model = await store.models.model(name)
    if model is None or model.active_build is None:
        return {"model": name, "trained": False}
    tokens, built_at = await store.models.build_summary(model)
    return {
        "model": model.name,
        "trained": True,
        "order": model.order,
        "tokenizer": model.tokenizer,
        "build": model.active_build,
        "ngrams": await store.models.build_counts(model.active_build),
        "tokens": tokens,
        "built_at": built_at,
    }


async def flush(
    store: Store, name: str, cold_url: str, batch: int, progress: Callable[[str], None] = quiet
) -> FlushReport:
    """Move up to ``batch`` of the model's coldest contexts to the MariaDB at ``cold_url``;
    ``progress`` hears each stage."""
    if store.db.dialect.name != "sqlite":
        raise DbslmError("the model already lives in MariaDB: there is nothing to flush")
    cold = await store.attach_cold(cold_url)
    async with store.db.lock(f"train:{name}"):  # no batch changes the build while its contexts move
        model = await trained_model(store, name)
        return await cold.flush(model.active_build, batch, progress)
