"""Application (slash) commands on the real discord.py client, proven by what the fake Discord receives."""

from __future__ import annotations

from adapters.discord.tests.fake_discord import ADMIN_ROLE
from adapters.discord.tests.harness import ANN, BOSS, ask, followups

FACTS = b'{"prompt": "favourite colour?", "response": "Teal, always."}\n'


async def test_the_synced_commands_hide_the_admin_ones_from_members(discord_bot):
    commands = {c["name"]: c for c in (await discord_bot.commands.wait_for(1))[0]}
    admin = {"train", "flush", "listen", "chance", "ban", "corrections", "approve", "reject"}
    assert set(commands) == admin | {"correct", "history", "stats", "forget", "help", "optout", "optin"}
    assert {"name": "file", "type": 11}.items() <= commands["train"]["options"][0].items()
    assert {name for name, c in commands.items() if c["default_member_permissions"] == "32"} == admin
    assert all(c["default_member_permissions"] is None for name, c in commands.items() if name not in admin)
    options = {(name, o["name"]): o for name, c in commands.items() for o in c.get("options", [])}
    assert [c["value"] for c in options["listen", "state"]["choices"]] == ["on", "off"]
    assert (options["chance", "percent"]["min_value"], options["chance", "percent"]["max_value"]) == (0, 100)
    assert options["train", "history"]["type"] == 4 and options["forget", "user"]["type"] == 6


async def test_train_with_a_file_trains_for_a_manage_server_member(discord_bot):
    fake = discord_bot
    assert await ask(fake, "60", "favourite colour?") != "Teal, always."
    token = await fake.slash("train", BOSS, (ADMIN_ROLE,), file=("facts.ndjson", FACTS))
    started, trained = await followups(fake, token, 2)
    assert "background" in started["content"] and not started["ephemeral"]
    assert trained["content"].startswith("Trained on facts.ndjson: ") and " tokens" in trained["content"]
    assert fake.callbacks[0] == {"interaction": "401", "type": 5, "flags": 0}
    assert await ask(fake, "61", "favourite colour?") == "Teal, always."


async def test_train_is_refused_for_a_plain_member_privately_and_changes_nothing(discord_bot):
    fake = discord_bot
    token = await fake.slash("train", ANN, file=("facts.ndjson", FACTS))
    [refusal] = await followups(fake, token, 1)
    assert refusal["content"] == "Only admins can use /train."
    assert refusal["flags"] == 64 and refusal["ephemeral"]
    assert {"deleted": token} in fake.callbacks  # the public "thinking" response goes first
    assert await ask(fake, "60", "favourite colour?") != "Teal, always."


async def test_a_malformed_ndjson_attachment_is_reported_with_its_line(discord_bot):
    fake = discord_bot
    token = await fake.slash("train", BOSS, (ADMIN_ROLE,), file=("bad.ndjson", FACTS + b"{oops\n"))
    _, failed = await followups(fake, token, 2)
    assert failed["content"].startswith("Training failed, nothing changed: bad.ndjson:2: malformed JSON")


async def test_an_attachment_over_the_limit_is_refused_without_downloading_it(discord_bot):
    fake = discord_bot
    token = await fake.slash("train", BOSS, (ADMIN_ROLE,), file=("big.txt", b"word " * 300_000))
    [refusal] = await followups(fake, token, 1)
    assert refusal["content"] == "big.txt is larger than the 1 MB limit." and refusal["ephemeral"]
    assert not fake.downloads


async def test_slash_correct_changes_the_next_answer_in_that_channel_only(discord_bot):
    fake = discord_bot
    await ask(fake, "60", "What is AI?")
    token = await fake.slash("correct", ANN, channel="60", text="AI is a talking database.")
    [ack] = await followups(fake, token, 1)
    assert "talking database" in ack["content"] and not ack["ephemeral"]
    assert await ask(fake, "60", "What is AI?") == "AI is a talking database."
    assert await ask(fake, "61", "What is AI?") != "AI is a talking database."


async def test_two_channels_get_independent_conversations(discord_bot):
    fake = discord_bot
    await ask(fake, "60", "Hello")
    await ask(fake, "61", "What is AI?")
    left = await fake.slash("history", ANN, channel="60", n=5)
    right = await fake.slash("history", ANN, channel="61")
    [left_history] = await followups(fake, left, 1)
    [right_history] = await followups(fake, right, 1)
    assert left_history["content"].startswith("[user] Hello\n") and "What is AI?" not in left_history["content"]
    assert right_history["content"].startswith("[user] What is AI?\n") and "Hello" not in right_history["content"]
