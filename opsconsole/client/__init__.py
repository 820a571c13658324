"""The site service's client: `SiteClient` (one method per endpoint, the
push stream) and `ClientRunner` (its own thread and loop, reconnecting by
itself, for the GUI). Imports core only; never Qt."""

from opsconsole.client.api import ApiError, SiteClient, read_token
from opsconsole.client.runner import ClientRunner

__all__ = ["ApiError", "ClientRunner", "SiteClient", "read_token"]
