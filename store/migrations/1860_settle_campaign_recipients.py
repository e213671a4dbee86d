"""Campaign recipients take their outbox rows' outcomes once (session 5, mends-a item 1).

From here on a recipient takes its row's outcome in the transaction that writes it
(``store.campaigns.outcomes``); before, reading the results and the campaign tick copied
them. Recipients still ``queued`` whose row has finished since the last copy are settled
here, so a campaign sending across the upgrade still finishes. Data only, both databases.
"""

# The outcome of the recipient's row, mapped as store.campaigns.outcomes maps it.
_OF_ROW = "(SELECT {} FROM message m WHERE m.id = campaign_recipient.message_id)"
_STATUS = "CASE WHEN m.status IN ('sent', 'delivered', 'read') THEN 'sent' ELSE m.status END"
_FINISHED = "('sent', 'delivered', 'read', 'failed', 'uncertain')"


def up(migrator, db):
    # Constants only: no outside text reaches this statement.
    db.execute_sql(
        "UPDATE campaign_recipient SET "  # noqa: S608
        f"status = {_OF_ROW.format(_STATUS)}, "
        f"reason = {_OF_ROW.format('m.error_code')}, "
        f"platform_message_id = {_OF_ROW.format('m.platform_message_id')}, "
        f"updated_at = {_OF_ROW.format('m.updated_at')} "
        "WHERE status = 'queued' AND EXISTS (SELECT 1 FROM message m "
        f"WHERE m.id = campaign_recipient.message_id AND m.status IN {_FINISHED})"
    )


def down(migrator, db):
    pass  # the settled recipients stay settled: the older code reads them the same
