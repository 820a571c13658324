"""opsconsole: the desktop console for hybrid mining / AI-inference sites."""

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("opsconsole")
except _metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+src"
