"""What differs between SQL dialects: column types, DDL, upserts and statement size limits.

SQL elsewhere in the store is written once with ``?`` placeholders; a backend whose driver
wants another style translates them.
"""

from __future__ import annotations

from dbslm.store.schema import Table

# What InnoDB's full-text index skips with the server's defaults (innodb_ft_min_token_size = 3
# and its default stopword list): a search finds these words only by a substring match.
FULLTEXT_MIN_LETTERS = 3
FULLTEXT_STOPWORDS = frozenset(
    "a about an are as at be by com de en for from how i in is it la of on or that the this to was what when "
    "where who will with und www".split()
)


class Dialect:
    """Renders the logical schema and the few statements whose syntax differs."""

    name = ""
    types: dict[str, str] = {}
    max_params = 30000
    column_query = ""  # one row when the table (first parameter) has the column (second)
    # rows a build writes per transaction (None: all in one), so that other writers wait little
    build_rows_per_transaction: int | None = None
    build_lanes = 2  # tables of a build written at once (a server writes each on a connection of its own)
    backfill_growth = 2  # how many times bigger a model grows between a history backfill's builds

    def create_table(self, table: Table) -> list[str]:
        """The statements that create ``table`` with its indexes."""
        raise NotImplementedError

    def search(self, table: Table, column: str, where: str, columns: str) -> str:
        """A full-text search over ``column``, one of ``table``'s searchable columns (alias
        ``g``): ``SELECT id, score, columns``, best first; bind :meth:`search_params`."""
        raise NotImplementedError

    def search_index(self, table: Table, column: str) -> list[str]:
        """The statements that add the full-text index of ``column`` to an existing table
        and fill it (if absent)."""
        raise NotImplementedError

    def search_params(self, query: str, params: tuple, limit: int) -> tuple:
        return (query, *params, limit)

    def search_query(self, words: list[str]) -> str:
        """A full-text query matching any of ``words``."""
        raise NotImplementedError

    def unindexed(self, words: list[str]) -> list[str]:
        """Those of ``words`` (lower-case) that the full-text index skips."""
        return []

    def contains(self, column: str) -> str:
        """The condition that ``column`` holds the ``?`` LIKE pattern (``!`` escapes), ignoring case."""
        return f"LOWER({column}) LIKE ? ESCAPE '!'"

    def upsert(self, table: str, columns: tuple[str, ...], keys: tuple[str, ...], add: tuple[str, ...] = ()) -> str:
        """INSERT one row of ``columns``; on a key clash set the other columns, or add to
        the columns named in ``add``."""
        marks = ", ".join("?" for _ in columns)
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})" + self.update_clause(columns, keys, add)

    def update_clause(self, columns: tuple[str, ...], keys: tuple[str, ...], add: tuple[str, ...] = ()) -> str:
        """The tail of an INSERT that updates the non-key columns of rows whose key exists."""
        sets = [
            f"{c} = {c} + {self.incoming(c)}" if c in add else f"{c} = {self.incoming(c)}"
            for c in columns
            if c not in keys
        ]
        return f" {self.on_conflict(keys)} {', '.join(sets)}"

    def keep_clause(self, keys: tuple[str, ...]) -> str:
        """The tail of an INSERT that leaves rows whose key exists as they are (and does
        not count them as changed)."""
        return f" {self.on_conflict(keys)} {keys[0]} = {keys[0]}"

    def on_conflict(self, keys: tuple[str, ...]) -> str:
        """The clause that turns an INSERT into an update when ``keys`` clash."""
        raise NotImplementedError

    def incoming(self, column: str) -> str:
        """How an upsert's update refers to the value the INSERT tried to write."""
        raise NotImplementedError

    def rows_per_statement(self, columns: int) -> int:
        return max(1, min(500, self.max_params // columns))

    def _column_defs(self, table: Table) -> list[str]:
        return [self.column_def(name, logical) for name, logical in table.columns]

    def column_def(self, name: str, logical: str) -> str:
        base = logical.rstrip("?")
        return f"{name} {self.types[base]}" + ("" if logical.endswith("?") or base == "serial" else " NOT NULL")

    def add_column(self, table: Table, column: str) -> str:
        """The statement that adds ``column`` of ``table`` to an existing table."""
        return f"ALTER TABLE {table.name} ADD COLUMN {self.column_def(column, dict(table.columns)[column])}"

    def retype(self, table: Table, columns: tuple[str, ...]) -> list[str]:
        """The statements that give existing ``columns`` of ``table`` their type."""
        raise NotImplementedError

    def add_serial_key(self, table: Table, order: str) -> list[str]:
        """The statements that give an existing table its serial primary key (numbering its rows
        in ``order`` where the backend can) in place of a key that ``table.unique`` now keeps."""
        raise NotImplementedError

    def create_index(self, table: str, columns: tuple[str, ...]) -> str:
        """The statement that adds an index over ``columns`` to an existing table (if absent)."""
        return f"CREATE INDEX IF NOT EXISTS {index_name(table, columns)} ON {table} ({', '.join(columns)})"


def index_name(table: str, columns: tuple[str, ...]) -> str:
    return f"{table}_{'_'.join(columns)}"


def fts_name(table: str, column: str) -> str:
    """SQLite: the FTS5 table that indexes one column."""
    return f"{table}_{column}_fts"


class SQLiteDialect(Dialect):
    name = "sqlite"
    types = {
        "serial": "INTEGER",
        "int": "INTEGER",
        "key": "INTEGER",
        "real": "REAL",
        "name": "TEXT",
        "ref": "TEXT",
        "token": "TEXT",
        "text": "TEXT",
        "blob": "BLOB",
    }
    max_params = 32000
    column_query = "SELECT 1 FROM pragma_table_info(?) WHERE name = ?"
    build_rows_per_transaction = 20_000  # one writer for the whole file: a reply's log waits for one part
    build_lanes = 1  # one writer for the whole file

    def create_table(self, table: Table) -> list[str]:
        defs = self._column_defs(table)
        serial = [c for c, t in table.columns if t == "serial"]
        if serial:
            defs = [d + " PRIMARY KEY" if d.split()[0] == serial[0] else d for d in defs]
        else:
            defs.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        defs += [f"UNIQUE ({', '.join(u)})" for u in table.unique]
        suffix = "" if serial else " WITHOUT ROWID"
        statements = [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(defs)}){suffix}"]
        statements += [self.create_index(table.name, ix) for ix in table.indexes]
        for column in table.search:
            statements += self._fts_statements(table, column)
        return statements

    def _fts_statements(self, table: Table, column: str) -> list[str]:
        """An external-content FTS5 table over one column, kept in step by triggers."""
        fts = fts_name(table.name, column)
        return [
            f"CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5({column}, content='{table.name}', "
            f"content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_ai AFTER INSERT ON {table.name} BEGIN "
            f"INSERT INTO {fts} (rowid, {column}) VALUES (new.id, new.{column}); END",
            f"CREATE TRIGGER IF NOT EXISTS {fts}_ad AFTER DELETE ON {table.name} BEGIN "
            f"INSERT INTO {fts} ({fts}, rowid, {column}) VALUES ('delete', old.id, old.{column}); END",
        ]

    def search_index(self, table, column):
        fts = fts_name(table.name, column)
        return [*self._fts_statements(table, column), f"INSERT INTO {fts} ({fts}) VALUES ('rebuild')"]

    def search_query(self, words):
        return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)

    def search(self, table: Table, column: str, where: str, columns: str) -> str:
        fts = fts_name(table.name, column)
        return (
            f"SELECT g.id, -bm25({fts}) AS score, {columns} FROM {fts} JOIN {table.name} g ON g.id = {fts}.rowid "
            f"WHERE {fts} MATCH ? AND {where} ORDER BY bm25({fts}), g.id LIMIT ?"
        )

    def retype(self, table, columns):
        # SQLite's types are affinities, but NOT NULL can only go with a copy of the table
        if not any(dict(table.columns)[c].endswith("?") for c in columns):
            return []
        return self._copy(table, table.column_names)

    def add_serial_key(self, table, order):
        return self._copy(table, tuple(c for c, kind in table.columns if kind != "serial"), order)

    def _copy(self, table: Table, columns: tuple[str, ...], order: str = "") -> list[str]:
        """Statements that copy ``columns`` of the rows (in ``order``) into a new table of
        ``table``'s definition, which then takes the old one's place."""
        create, *indexes = self.create_table(table)
        names = ", ".join(columns)
        return [
            create.replace(f"EXISTS {table.name} (", f"EXISTS {table.name}__copy (", 1),
            f"INSERT INTO {table.name}__copy ({names}) SELECT {names} FROM {table.name}"
            + (f" ORDER BY {order}" if order else ""),
            f"DROP TABLE {table.name}",
            f"ALTER TABLE {table.name}__copy RENAME TO {table.name}",
            *indexes,
        ]

    def on_conflict(self, keys):
        return f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET"

    def keep_clause(self, keys):
        return f" ON CONFLICT ({', '.join(keys)}) DO NOTHING"

    def incoming(self, column):
        return f"excluded.{column}"


class MariaDBDialect(Dialect):
    name = "mariadb"
    types = {
        "serial": "BIGINT AUTO_INCREMENT",
        "int": "BIGINT",
        "key": "BIGINT",
        "real": "DOUBLE",
        "name": "VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "ref": "VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "token": "VARCHAR(512) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "text": "MEDIUMTEXT CHARACTER SET utf8mb4",
        "blob": "MEDIUMBLOB",
    }
    max_params = 60000
    column_query = (
        "SELECT 1 FROM information_schema.columns WHERE table_schema = DATABASE() "
        "AND table_name = ? AND column_name = ?"
    )
    # each build rewrites the whole model, and a server's bulk writes make that dear beside the
    # queueing: fewer builds (1M messages, alternated: 5x 33.6-34.4k messages/s against
    # 31.5-32.8k at 2x; SQLite keeps 2x: at 10M 38.9k against 36.9k at 5x, its last batch bigger)
    backfill_growth = 5

    def __init__(self, engines: dict[str, str] | None = None) -> None:
        self.engines = {"slab": "InnoDB", "meta": "InnoDB", **(engines or {})}

    def retype(self, table, columns):
        types = dict(table.columns)
        return [f"ALTER TABLE {table.name} " + ", ".join(f"MODIFY {self.column_def(c, types[c])}" for c in columns)]

    def add_serial_key(self, table, order):
        # one statement, so a migration cut short leaves the old key or the new one; the server
        # numbers the rows in the order of the old key
        (serial,) = table.primary_key
        unique = "".join(f", ADD UNIQUE KEY ({', '.join(u)})" for u in table.unique)
        return [
            f"ALTER TABLE {table.name} ADD COLUMN {serial} {self.types['serial']} NOT NULL FIRST, "
            f"DROP PRIMARY KEY, ADD PRIMARY KEY ({serial}){unique}"
        ]

    def add_column(self, table, column):
        # MariaDB commits DDL at once: a migration cut short must be able to run again
        definition = self.column_def(column, dict(table.columns)[column])
        return f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {definition}"

    def create_table(self, table: Table) -> list[str]:
        defs = self._column_defs(table)
        defs.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
        defs += [f"UNIQUE KEY ({', '.join(u)})" for u in table.unique]
        defs += [f"KEY {index_name(table.name, ix)} ({', '.join(ix)})" for ix in table.indexes]
        defs += [f"FULLTEXT KEY {column} ({column})" for column in table.search]
        engine = "InnoDB" if table.search else self.engines[table.family]
        return [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(defs)}) ENGINE={engine} DEFAULT CHARSET=utf8mb4"]

    def search(self, table: Table, column: str, where: str, columns: str) -> str:
        match = f"MATCH (g.{column}) AGAINST (? IN NATURAL LANGUAGE MODE)"
        return (
            f"SELECT g.id, {match} AS score, {columns} FROM {table.name} g WHERE {match} AND {where} "
            f"ORDER BY score DESC, CHAR_LENGTH(g.{column}), g.id LIMIT ?"  # ties: the closest, shortest text
        )

    def search_params(self, query: str, params: tuple, limit: int) -> tuple:
        return (query, query, *params, limit)

    def search_index(self, table, column):
        return [f"ALTER TABLE {table.name} ADD FULLTEXT INDEX IF NOT EXISTS {column} ({column})"]

    def search_query(self, words):
        return " ".join(w.replace('"', " ") for w in words)

    def unindexed(self, words):
        return [w for w in words if len(w) < FULLTEXT_MIN_LETTERS or w in FULLTEXT_STOPWORDS]

    def contains(self, column):
        return f"{column} LIKE ? ESCAPE '!'"  # text columns take the server's utf8mb4 collation, which ignores case

    def on_conflict(self, keys):
        return "ON DUPLICATE KEY UPDATE"

    def incoming(self, column):
        return f"VALUES({column})"
