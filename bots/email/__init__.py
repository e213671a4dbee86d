"""The email channel: IMAP ingest (IDLE or polling), parsing, threaded SMTP replies, F2."""
