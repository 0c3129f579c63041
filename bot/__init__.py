"""Platform-neutral bot core (events, commands, conversations); arrives with the bot issue."""
