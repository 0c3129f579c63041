"""Platform adapters (console, Discord, Slack); arrive with the bot issue."""
