"""Messenger channel adapters (Telegram, WhatsApp, email) and their webhook routes."""
