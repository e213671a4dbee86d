"""Delivery: the Dramatiq broker, actors that send the outbox, rate limiting."""
