"""The client list: filtered queries and pages, bulk actions, saved filters, unread counters."""
