"""The admin command set, the ``switchboard`` CLI and the HTTP service that ties it together."""
