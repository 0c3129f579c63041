"""Level 2: what the bot remembers per conversation, retrieval of similar prompts, the cache."""
