"""Decode profiles: a model's sampling settings by name, readable and tunable with SQL."""

from __future__ import annotations

from dataclasses import asdict

from dbslm.decoder import DecodeSettings
from dbslm.store.database import Database

PROFILE_COLUMNS = (
    "temperature",
    "top_k",
    "top_p",
    "cache_weight",
    "cache_decay",
    "presence_penalty",
    "frequency_penalty",
    "max_tokens",
    "copy_tokens",
    "prompt_weight",
)


class ProfileStore:
    """A model's decode profiles in one database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def profile(self, model_id: int, name: str) -> dict[str, float] | None:
        row = await self.db.fetchone(
            f"SELECT {', '.join(PROFILE_COLUMNS)} FROM decode_profiles WHERE model_id = ? AND name = ?",
            (model_id, name),
        )
        return dict(zip(PROFILE_COLUMNS, row)) if row else None

    async def decode_settings(self, model_id: int, name: str) -> DecodeSettings:
        """The decode profile ``name`` of a model, written with the defaults the first time, so
        that it can be read and tuned with SQL."""
        values = await self.profile(model_id, name)
        if values is None:
            values = asdict(DecodeSettings())
            await self.save_profile(model_id, name, values)
        return DecodeSettings(
            **{k: type(getattr(DecodeSettings, k))(v) for k, v in values.items() if v is not None}
        )  # a column a later version added is NULL in old rows

    async def save_profile(self, model_id: int, name: str, values: dict[str, float]) -> None:
        columns = ("model_id", "name", *PROFILE_COLUMNS)
        async with self.db.transaction() as tx:
            await tx.execute(
                self.db.dialect.upsert("decode_profiles", columns, ("model_id", "name")),
                (model_id, name, *(values[c] for c in PROFILE_COLUMNS)),
            )

    async def set_fitted(self, model_id: int, column: str, value: float, defaults: dict[str, float]) -> None:
        """Set a fitted value in every decode profile of a model (the default profile, with
        ``defaults`` for its other columns, when it has none yet)."""
        assert column in PROFILE_COLUMNS
        async with self.db.transaction() as tx:
            if await tx.fetchall("SELECT name FROM decode_profiles WHERE model_id = ?", (model_id,)):
                await tx.execute(f"UPDATE decode_profiles SET {column} = ? WHERE model_id = ?", (value, model_id))
            else:
                values = {**defaults, column: value}
                await tx.execute(
                    f"INSERT INTO decode_profiles (model_id, name, {', '.join(PROFILE_COLUMNS)}) "
                    f"VALUES (?, 'default', {', '.join('?' for _ in PROFILE_COLUMNS)})",
                    (model_id, *(values[c] for c in PROFILE_COLUMNS)),
                )
