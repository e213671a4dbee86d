"""Index only the rows a query can look for (issue 14 item 4): eight indexes made partial.

Deleting 100,000 of 1,000,000 clients changes nearly every leaf page of every index of
``client`` and ``message``, so its cost follows the indexes' sizes. Most of these entries were
NULLs no query looks up: every lookup of these columns is ``col = ?`` or ``col IN (...)``
(ingest's dedup, receipts by platform id, a job's messages, the ``stage:`` / ``block:`` /
``responsible:`` filters, the ``SET NULL`` of a deleted operator, block or job), which both
databases prove implies ``col IS NOT NULL`` and so answer from the partial index. The unique
ones stay unique where it mattered: NULLs never conflicted. ``responsible:none`` (``IS NULL``,
most clients) never used its index. Same names, both databases.
"""

# name -> (table, columns, unique, the column that is NULL in the rows left out)
PARTIAL = {
    "client_bot_id_bsuid": ("client", ("bot_id", "bsuid"), True, "bsuid"),
    "client_deal_stage": ("client", ("deal_stage",), False, "deal_stage"),
    "client_block_id": ("client", ("block_id",), False, "block_id"),
    "client_responsible_id": ("client", ("responsible_id",), False, "responsible_id"),
    "message_bot_id_dedup_key": ("message", ("bot_id", "dedup_key"), True, "dedup_key"),
    "message_bot_id_platform_message_id": (
        "message",
        ("bot_id", "platform_message_id"),
        False,
        "platform_message_id",
    ),
    "message_job_id": ("message", ("job_id",), False, "job_id"),
    "message_operator_id": ("message", ("operator_id",), False, "operator_id"),
}


def _create(db, name, partial):
    table, columns, unique, nullable = PARTIAL[name]
    kind = "UNIQUE INDEX" if unique else "INDEX"
    listed = ", ".join(f'"{c}"' for c in columns)
    where = f' WHERE "{nullable}" IS NOT NULL' if partial else ""
    db.execute_sql(f'CREATE {kind} "{name}" ON "{table}" ({listed}){where}')


def up(migrator, db):
    for name in PARTIAL:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        _create(db, name, partial=True)


def down(migrator, db):
    for name in PARTIAL:
        db.execute_sql(f'DROP INDEX IF EXISTS "{name}"')
        _create(db, name, partial=False)
