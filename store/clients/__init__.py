"""The client list: filtered queries and pages, bulk actions, saved filters, unread counters.

- ``query``: ``compile_filter``, ``select_clients``, ``count_clients`` (exact),
  ``count_capped`` / ``capped_counts`` (exact to ``COUNT_CAP``, "10,000+" beyond),
  ``page_clients`` (by offset, or keyset after a ``next_cursor``), ``scope``
- ``cursor``: ``Cursor`` and ``decode_cursor``, the opaque keyset cursor of a page
- ``bulk``: ``plan_bulk`` / ``plan_read_all`` / ``plan_purge_unsubscribed`` then ``run_bulk``
- ``saved``: ``save_filter``, ``list_saved``, ``get_saved``, ``delete_saved``
- ``unread``: ``unread_count``
"""
