"""The Telegram channel: aiogram 3 adapter, webhook and long-polling ingest."""
