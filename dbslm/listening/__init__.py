"""Listening: learning from the messages of listened channels, and unlearning them exactly.

The bot decides what may be learned of a message (its rules: no bots, commands, opted-out
people or banned words) and hands it over as a :class:`~dbslm.listening.pairing.Heard`; from
there this package owns its life:

- ``pairing``: which earlier message it answers (its prompt);
- ``listener``: observed, edited and deleted messages, queued or marked;
- ``backfill``: a channel's history, read page by page;
- ``batches``: when each community's batch is built;
- ``learning``: one model's batches and forgettings, each one build.

A message's :class:`~dbslm.domain.Status` moves so::

    QUEUED --its batch goes live--> LEARNED
    LEARNED --deleted on its platform--> FORGETTING --next batch--> gone
    LEARNED --its prompt deleted, edited or forgotten--> UNPAIRING --next batch--> QUEUED (on its own)
    QUEUED --deleted, or its author forgotten--> gone at once

An edit or a forgotten author subtracts at once instead of waiting for the next batch. Each
transition that changes the model happens in the transaction that switches to the build
holding the change, so the rows always say exactly what the serving model was trained on.
"""
