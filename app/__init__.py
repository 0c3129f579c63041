"""The process entry point: it wires the settings, the store, the bot core and the adapters
(``dbslm-bot``). Nothing imports it: adapters -> bot -> dbslm, and this on top."""
