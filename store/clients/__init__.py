"""The client list: filtered queries and pages, bulk actions, saved filters, unread counters.

- ``query``: ``compile_filter``, ``select_clients``, ``count_clients``, ``page_clients``, ``scope``
- ``bulk``: ``plan_bulk`` / ``plan_read_all`` / ``plan_purge_unsubscribed`` then ``run_bulk``
- ``saved``: ``save_filter``, ``list_saved``, ``get_saved``, ``delete_saved``
- ``unread``: ``unread_count``
"""
