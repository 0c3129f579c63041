"""Copying a whole database to MariaDB: as a portable SQL file, or straight into a server.

Tables stream in primary-key order in batches, so memory stays flat whatever the size.
Three modes: ``create`` (tables created if missing, rows inserted), ``drop`` (tables dropped
and rebuilt first) and ``incremental`` (rows upserted in place, nothing dropped: running it
twice changes nothing the second time).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, TextIO

from dbslm.errors import DbslmError
from dbslm.store.database import Database
from dbslm.store.dialect import MariaDBDialect
from dbslm.store.schema import SCHEMA_VERSION, TABLES, Table

MODES = ("create", "drop", "incremental")
BATCH = 20000
ROWS_PER_INSERT = 500


async def table_batches(source: Database, table: Table) -> AsyncIterator[list[tuple]]:
    """The rows of one table in primary-key order, in batches."""
    sql = f"SELECT {', '.join(table.column_names)} FROM {table.name} ORDER BY {', '.join(table.primary_key)}"
    async with aclosing(source.iterate(sql, (), BATCH)) as batches:
        async for batch in batches:
            yield batch


async def copy_database(
    source: Database, target: Database, mode: str, progress: Callable[[str, int], None]
) -> dict[str, int]:
    """Copy every table of ``source`` into ``target``; returns rows copied per table."""
    if mode == "create":
        for table in TABLES:
            if await target.table_exists(table.name) and await target.fetchone(f"SELECT 1 FROM {table.name} LIMIT 1"):
                raise DbslmError(
                    f"{target.description} already has rows in {table.name}: "
                    "pass --incremental to update them or --drop-existing to replace them"
                )
    async with target.transaction() as tx:
        for table in TABLES:
            exists = await target.table_exists(table.name)
            if exists and mode == "drop":
                await tx.execute(f"DROP TABLE {table.name}")
            if not exists or mode == "drop":
                for statement in target.dialect.create_table(table):
                    await tx.execute(statement)
    copied: dict[str, int] = {}
    for table in TABLES:
        copied[table.name] = 0
        async with aclosing(table_batches(source, table)) as batches:
            async for batch in batches:
                async with target.transaction() as tx:
                    await tx.insert_rows(
                        table.name,
                        table.column_names,
                        [list(c) for c in zip(*batch)],
                        update_on=table.primary_key if mode == "incremental" else (),
                    )
                copied[table.name] += len(batch)
                progress(table.name, copied[table.name])
    return copied


async def dump_database(
    source: Database, out: TextIO, mode: str, dialect: MariaDBDialect, progress: Callable[[str, int], None]
) -> dict[str, int]:
    """Write MariaDB DDL and data for every table of ``source`` to ``out``."""
    out.write(f"-- dbslm schema {SCHEMA_VERSION}, mode {mode}: replay with the mariadb client\n")
    out.write("SET NAMES utf8mb4;\n")
    for table in TABLES:
        if mode == "drop":
            out.write(f"DROP TABLE IF EXISTS {table.name};\n")
        out.writelines(statement + ";\n" for statement in dialect.create_table(table))
    written: dict[str, int] = {}
    for table in TABLES:
        written[table.name] = 0
        head = f"INSERT INTO {table.name} ({', '.join(table.column_names)}) VALUES\n"
        tail = dialect.update_clause(table.column_names, table.primary_key) if mode == "incremental" else ""
        async with aclosing(table_batches(source, table)) as batches:
            async for batch in batches:
                for start in range(0, len(batch), ROWS_PER_INSERT):
                    rows = batch[start : start + ROWS_PER_INSERT]
                    values = ",\n".join("(" + ", ".join(map(sql_literal, row)) + ")" for row in rows)
                    out.write(head + values + tail + ";\n")
                written[table.name] += len(batch)
                progress(table.name, written[table.name])
    return written


def sql_literal(value: Any) -> str:
    """A MariaDB literal for a value in a dump file (never used for executed statements)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, bytes):
        return "X'" + value.hex() + "'" if value else "''"
    escaped = (
        str(value)
        .replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\0", "\\0")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\x1a", "\\Z")
    )
    return "'" + escaped + "'"
