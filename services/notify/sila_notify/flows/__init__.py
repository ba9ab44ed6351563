"""Notify's use cases, one module per concept: the only code that opens transactions and
records events. Planning turns events into messages (``planning``), campaigns fan out to
an audience (``campaigns``), delivery sends and records outcomes (``delivery``), partners'
webhooks and TMF621 listeners get their deliveries (``webhooks``); the API's writes are in
``preferences``, ``templates``, ``subscriptions`` and ``inbox``; a customer the directory
lacks is asked of identity (``recipients``).
"""
