"""Campaigns (issue 18): content, audience, schedule and sending of rich broadcasts."""
