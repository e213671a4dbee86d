"""The operator inbox as a Telegram Mini App (issue 17): the server side.

- ``serve``: ``install_app`` mounts ``/app/`` (index), ``/app/static/<version>/...`` (assets,
  ``assets``) and the JSON API under ``/app/api/v1`` when ``admin_bot`` is configured.
- ``auth``: Telegram's initData checked with the admin bot's token; session tokens.
- ``context``: ``ApiContext`` (the operator of a call; a ``CommandContext``) and ``AppState``.
- ``api``: the endpoint registry (contract in its docstring); ``endpoints/``: one module per
  concern, each declaring its endpoints; ``api_docs`` renders docs/app-api.md.
- ``static/``: the front end without a build step (contract in ``static/app.js``).
"""
