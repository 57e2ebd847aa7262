"""reprobox: make a training setup a shareable, checkable artefact."""

__version__ = "0.1.0"
