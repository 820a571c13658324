"""`opsconsole serve`: one headless service per site that owns the poller,
live store, history, alarms, the duty controller with its journal and audit,
and /metrics, behind an HTTP API with tokens and roles (aiohttp). Never
imports Qt."""

# here, not in server.py: `opsconsole --help` and every other command build
# the `serve` parser, and server.py imports aiohttp (~0.4 s of CPU)
DEFAULT_LISTEN = "127.0.0.1:8470"
