"""The editors' console under ``/admin/``: catalog, phrases and intents, replies, managers.

Server-rendered pages (aiohttp + Jinja2 templates in ``bot/web/templates``) with a little
JavaScript (``bot/static/admin.js``). Accounts with roles (:mod:`bot.web.accounts`), sessions
and CSRF (:mod:`bot.web.security`), the audit log and the history of every change
(:mod:`bot.web.audit`). :func:`bot.web.app.mount_admin` mounts it on the bot's server; the
layout (navigation, base template, role checks) is in :mod:`bot.web.layout`, so later pages
(the supervisors' call journal) add themselves with one :func:`~bot.web.layout.nav_item`.
"""
