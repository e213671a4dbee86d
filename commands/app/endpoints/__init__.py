"""The app's API endpoints, one module per concern; ``commands.app.api.load_endpoints`` imports
every module here, so a new concern is a new file (see ``commands.app.api`` for the contract)."""
