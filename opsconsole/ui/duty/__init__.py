"""Duty switching in the GUI: the client that drives the DutyController on the
collector loop, the switch dialog, the audit view, and the glue to the tiles."""
