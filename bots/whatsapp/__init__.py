"""WhatsApp Cloud API channel: signed webhooks in, pywa's async client out."""
