"""The panels of the main window, each bound to one SiteSession."""
