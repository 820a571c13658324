"""`opsconsole serve`: one headless service per site that owns the poller,
live store, history, alarms, the duty controller with its journal and audit,
and /metrics, behind an HTTP API with tokens and roles (aiohttp). Never
imports Qt."""
