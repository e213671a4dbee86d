"""Campaigns (issue 18): content, audience, schedule and sending of rich broadcasts.

- ``model``: ``create``, ``get``, ``pause``, ``resume``, ``cancel``, ``latest``; the states
- ``audience``: ``launch`` (freeze the filter's clients, set-based), skip reasons in SQL
- ``schedule``: ``tick`` (start, clock, due slice), ``Pacing``, ``QuietHours``
- ``send``: ``enqueue_due`` (one outbox row per client, dedup key)
- ``outcomes``: ``follow`` (a recipient takes its row's outcome where it is written)
- ``content``, ``placeholders``, ``personalise``, ``telegram_html``: the typed content and its
  rendering per platform
"""
