"""The logical schema: every table once, rendered to DDL by each dialect.

Every row belongs to a model: Level 1 rows through their build (a build is one generation of
one model), everything else through a ``model_id`` column. Column types are logical:

- ``serial``: auto-assigned integer id; ``int``: 64-bit integer; ``key``: a 64-bit context key;
- ``real``: double; ``name``: short text (names, statuses); ``token``: a vocabulary entry;
- ``ref``: a longer identifier (channel and message keys); ``text``: unbounded text; ``blob``:
bytes. A trailing ``?`` makes the column nullable.

``family`` selects the storage engine where a dialect has several (MariaDB): ``slab`` for the
bulk Level 1/3 tables, ``meta`` for the small transactional ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 10  # 2: pair_vectors, the community tables, pair metadata; longer channel keys; 3: copy_tokens;
# 4: the learning queue's sequence numbers (learned.seq, queues); 5: word_vectors, responses searchable,
# decode_profiles.prompt_weight; 6: channel messages learned with the message they answer (answers,
# pairs.message_key), set_aside; 7: reply_words; 8: builds in count form, learning by delta (builds.form,
# version and head_size, ngrams.adjusted, contexts, discounts.ngrams, touched; ngrams.logp and q empty in them);
# 9: Slack's installations into many workspaces (slack_installations, slack_bots, slack_oauth_states);
# 10: learned rows in the order they were queued (learned.id; the message key a unique index)
RETYPED = {
    2: (("conversations", ("channel_key",)),),  # columns whose type a version changed
    8: (("ngrams", ("logp", "q")),),
}
# columns and indexes a version added to an existing table
ADDED = {
    2: (("pairs", "meta"),),
    3: (("decode_profiles", "copy_tokens"),),
    4: (("learned", "seq"),),
    5: (("decode_profiles", "prompt_weight"),),
    6: (("pairs", "message_key"),),
    8: (
        ("builds", "form"),
        ("builds", "version"),
        ("builds", "head_size"),
        ("ngrams", "adjusted"),
        ("discounts", "ngrams"),
    ),
}
INDEXED = {4: (("learned", ("model_id", "seq")),), 6: (("pairs", ("model_id", "message_key")),)}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[tuple[str, str], ...]
    primary_key: tuple[str, ...]
    family: str = "meta"
    unique: tuple[tuple[str, ...], ...] = field(default=())
    indexes: tuple[tuple[str, ...], ...] = field(default=())
    search: tuple[str, ...] = field(default=())  # text columns with a full-text index each

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)


# The tables are laid out by hand: related columns share a line.
# fmt: off
TABLES: tuple[Table, ...] = (
    Table("meta", (("name", "name"), ("value", "text")), ("name",)),
    Table(
        "models",
        (("id", "serial"), ("name", "name"), ("ngram_order", "int"), ("tokenizer", "name"),
         ("active_build", "int?"), ("created_at", "real")),
        ("id",), unique=(("name",),),
    ),
    Table(
        "builds",  # form: 'counts' (probabilities computed from the counts as they are read) or
        # 'probabilities' (stored: ARPA imports; NULL in builds written before version 8); version:
        # how many batches changed a count-form build in place (see touched); head_size: its K
        (("id", "serial"), ("model_id", "int"), ("status", "name"), ("source", "name"),
         ("ngram_order", "int"), ("sentences", "int"), ("tokens", "int"),
         ("created_at", "real"), ("finished_at", "real?"), ("form", "name?"), ("version", "int?"),
         ("head_size", "int?")),
        ("id",),
    ),
    Table(
        "vocab",
        (("model_id", "int"), ("id", "int"), ("text", "token"), ("control", "int"), ("freq", "int")),
        ("model_id", "id"), unique=(("model_id", "text"),),
    ),
    Table(
        "ngrams",  # count form: count and adjusted count; probability form: count (0 when imported),
        # log10 p, the backoff of the n-gram as a context and the 8-bit code of logp
        (("build", "int"), ("n", "int"), ("ctx", "key"), ("word", "int"), ("count", "int"),
         ("logp", "real?"), ("backoff", "real?"), ("q", "int?"), ("adjusted", "int?")),
        ("build", "n", "ctx", "word"), family="slab",
    ),
    Table(
        "contexts",  # count form: per order n and context key, the sum of the adjusted counts of the
        # words that follow the context, how many have 1, 2 and 3 or more, and its head: the K of
        # highest adjusted count, as int32 blobs of words and counts (only when more follow it)
        (("build", "int"), ("n", "int"), ("ctx", "key"), ("total", "int"), ("n1", "int"), ("n2", "int"),
         ("n3", "int"), ("head_words", "blob?"), ("head_counts", "blob?")),
        ("build", "n", "ctx"), family="slab",
    ),
    Table(
        "touched",  # count form: the contexts whose words a batch changed in place, by the build's version
        # it made (readers drop what they kept of them); the last TOUCHED_KEPT versions of a build
        (("build", "int"), ("version", "int"), ("n", "int"), ("ctx", "key")),
        ("build", "version", "n", "ctx"), family="slab",
    ),
    Table(
        "heads",  # probability form: top-K heads with 8-bit codes
        (("build", "int"), ("n", "int"), ("ctx", "key"), ("words", "blob"), ("codes", "blob")),
        ("build", "n", "ctx"), family="slab",
    ),
    Table(
        "quant",
        (("build", "int"), ("n", "int"), ("code", "int"), ("logp", "real")),
        ("build", "n", "code"), family="slab",
    ),
    Table(
        "discounts",
        (("build", "int"), ("n", "int"), ("t1", "int"), ("t2", "int"), ("t3", "int"), ("t4", "int"),
         ("d1", "real"), ("d2", "real"), ("d3", "real"), ("fallback", "int"), ("ngrams", "int?")),
        ("build", "n"),
    ),
    # Level 2: conversations and what people taught the bot in them.
    Table(
        "conversations",
        (("id", "serial"), ("model_id", "int"), ("user_id", "name"), ("agent", "name"),
         ("channel_key", "ref?"), ("created_at", "real")),
        ("id",), indexes=(("model_id", "channel_key"), ("user_id",)),
    ),
    Table(
        "messages",
        (("id", "serial"), ("conversation_id", "int"), ("role", "name"), ("user_id", "name"),
         ("text", "text"), ("concept", "name?"), ("created_at", "real")),
        ("id",), indexes=(("conversation_id", "id"), ("user_id",)),
    ),
    Table(
        "corrections",
        (("id", "serial"), ("conversation_id", "int"), ("reply_id", "int?"), ("user_id", "name"),
         ("prompt", "text"), ("corrected", "text"), ("scope", "name"), ("created_at", "real")),
        ("id",), indexes=(("conversation_id",), ("user_id",)),
    ),
    Table(
        "biases",  # a span of tokens to favour after a prompt like ``prompt``
        (("id", "serial"), ("model_id", "int"), ("conversation_id", "int?"), ("correction_id", "int?"),
         ("user_id", "name"), ("prompt", "text"), ("span", "text"), ("strength", "real"),
         ("expires_at", "real?"), ("created_at", "real")),
        ("id",), indexes=(("model_id", "conversation_id"), ("user_id",)),
    ),
    Table(
        "pairs",  # prompt/response pairs the model learned from, searched to fill the cache
        (("id", "serial"), ("model_id", "int"), ("prompt", "text"), ("response", "text"),
         ("source", "name"), ("user_id", "name?"), ("meta", "text?"),  # meta: the row's other fields, JSON
         ("message_key", "ref?")),  # a channel message's pair: the learned row it came from
        ("id",), indexes=(("model_id",), ("model_id", "message_key")), search=("prompt", "response"),
    ),
    Table(
        "word_vectors",  # per model: each word's vector counted from its pairs (dbslm.reply.vectors)
        (("model_id", "int"), ("word", "token"), ("weight", "real"), ("vector", "blob")),
        ("model_id", "word"),
    ),
    Table(
        "reply_words",  # per model: the reply words each prompt word calls for (dbslm.reply.reply_words);
        # words of up to 64 characters (MAX_WORD_CHARS), so two fit one MariaDB key
        (("model_id", "int"), ("word", "name"), ("reply_word", "name"), ("score", "real"), ("pairs", "int")),
        ("model_id", "word", "reply_word"),
    ),
    Table(
        "pair_vectors",  # sentence vectors of pair prompts, by the embedder that made them
        (("pair_id", "int"), ("embedder", "name"), ("vector", "blob")),
        ("pair_id", "embedder"),
    ),
    # Communities: per channel listening and reply chance, opt-outs, bans, learned messages.
    Table(
        "channels",
        (("model_id", "int"), ("channel_key", "ref"), ("listening", "int"), ("chance", "real"),
         ("backfill_cursor", "text?"), ("updated_at", "real")),
        ("model_id", "channel_key"),
    ),
    Table("optouts", (("model_id", "int"), ("user_id", "name"), ("created_at", "real")), ("model_id", "user_id")),
    Table("banned_words",  # a community's decisions over the default list: banned 1 adds, 0 lifts
          (("model_id", "int"), ("word", "name"), ("banned", "int")), ("model_id", "word")),
    Table(
        "learned",  # each message learned from a channel (or waiting for its batch), for exact forgetting;
        # the model holds the rows whose seq is at most its queues.learned (status says 'forgetting'
        # for a row waiting to be subtracted, 'unpairing' for one whose prompt is to be taken
        # away, 'queued' otherwise). Rows are stored in the order they were queued (id): a backfill
        # appends them, and its indexes hold the id, not the message key
        (("id", "serial"), ("model_id", "int"), ("message_key", "ref"), ("user_id", "name"), ("channel_key", "ref"),
         ("text", "text"), ("status", "name"), ("created_at", "real"), ("seq", "int?")),
        ("id",), unique=(("model_id", "message_key"),),
        indexes=(("model_id", "status"), ("user_id",), ("model_id", "seq")),
    ),
    Table(
        "answers",  # a learned channel message that answers another: that one (its prompt), a row per answer
        (("model_id", "int"), ("message_key", "ref"), ("prompt_key", "ref"), ("prompt_user", "name"),
         ("prompt", "text")),
        ("model_id", "message_key"), indexes=(("model_id", "prompt_key"), ("prompt_user",)),
    ),
    Table(
        "set_aside",  # channel messages that could not be learned (their build failed alone), with why
        (("model_id", "int"), ("message_key", "ref"), ("user_id", "name"), ("reason", "text"),
         ("created_at", "real")),
        ("model_id", "message_key"), indexes=(("user_id",),),
    ),
    Table(
        "queues",  # per model: the last sequence number given to a queued message, the last one it
        # learned, and how many times queued messages were dropped before their batch (deleted
        # on the platform, forgotten): a batch taken before a drop never goes live
        (("model_id", "int"), ("queued", "int"), ("learned", "int"), ("dropped", "int")), ("model_id",),
    ),
    Table(
        "decode_profiles",
        (("model_id", "int"), ("name", "name"), ("temperature", "real"), ("top_k", "int"), ("top_p", "real"),
         ("cache_weight", "real"), ("cache_decay", "real"), ("presence_penalty", "real"),
         ("frequency_penalty", "real"), ("max_tokens", "int"), ("copy_tokens", "int?"),
         ("prompt_weight", "real?")),
        ("model_id", "name"),
    ),
    # Level 3: concepts that emit a span of text before Level 1 continues.
    Table(
        "concepts",
        (("model_id", "int"), ("name", "name"), ("examples", "text"), ("template", "text"),
         ("payload", "name?"), ("threshold", "real")),
        ("model_id", "name"),
    ),
    Table(
        "concept_signals",  # a concept forced for a conversation's next reply
        (("id", "serial"), ("conversation_id", "int"), ("concept", "name"), ("created_at", "real")),
        ("id",), indexes=(("conversation_id",),),
    ),
    Table(
        "flushed",  # contexts of a SQLite build whose rows moved to MariaDB cold storage
        (("build", "int"), ("n", "int"), ("ctx", "key"), ("rows_moved", "int"), ("flushed_at", "real")),
        ("build", "n", "ctx"),
    ),
    # Slack's OAuth flow (one deployment installed into many workspaces): each installation and
    # bot as slack_sdk's JSON of it (with its tokens), keyed by org and workspace ('' for none), and
    # the state values of installs under way. An installation is kept per installing user.
    Table(
        "slack_installations",
        (("enterprise_id", "name"), ("team_id", "name"), ("user_id", "name"), ("data", "text"),
         ("installed_at", "real")),
        ("enterprise_id", "team_id", "user_id"),
    ),
    Table(
        "slack_bots",
        (("enterprise_id", "name"), ("team_id", "name"), ("data", "text"), ("installed_at", "real")),
        ("enterprise_id", "team_id"),
    ),
    Table("slack_oauth_states", (("state", "name"), ("expires_at", "real")), ("state",)),
)

# The cold tier, in the MariaDB database that a SQLite file flushes to: the same rows as
# ``ngrams`` and ``heads``, keyed by the ``database_id`` of the SQLite file they came from.
COLD_TABLES: tuple[Table, ...] = (
    Table(
        "cold_ngrams",
        (("source", "name"), ("build", "int"), ("n", "int"), ("ctx", "key"), ("word", "int"),
         ("count", "int"), ("logp", "real?"), ("backoff", "real?"), ("q", "int?"), ("adjusted", "int?")),
        ("source", "build", "n", "ctx", "word"), family="slab",
    ),
    Table(
        "cold_contexts",
        (("source", "name"), ("build", "int"), ("n", "int"), ("ctx", "key"), ("total", "int"), ("n1", "int"),
         ("n2", "int"), ("n3", "int"), ("head_words", "blob?"), ("head_counts", "blob?")),
        ("source", "build", "n", "ctx"), family="slab",
    ),
    Table(
        "cold_heads",
        (("source", "name"), ("build", "int"), ("n", "int"), ("ctx", "key"), ("words", "blob"),
         ("codes", "blob")),
        ("source", "build", "n", "ctx"), family="slab",
    ),
)

# fmt: on
BUILD_TABLES = tuple(t.name for t in TABLES if "build" in t.column_names and t.name != "builds")
