"""Packages that exist only for Windows or macOS, and what Linux uses instead.

A value of None drops the package; a name maps it to the Linux package at the
same version. Each entry says why, for the warning the user sees.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HostOnlyPackage:
    """A host-only package, what replaces it on Linux (None: nothing), and why."""

    replacement: str | None
    reason: str


HOST_ONLY_PACKAGES: dict[str, HostOnlyPackage] = {
    "appnope": HostOnlyPackage(None, "a macOS-only helper"),
    "comtypes": HostOnlyPackage(None, "a Windows-only COM binding"),
    "jax-metal": HostOnlyPackage(None, "the Apple GPU plugin for JAX"),
    "pypiwin32": HostOnlyPackage(None, "a Windows-only API binding"),
    "pywin32": HostOnlyPackage(None, "a Windows-only API binding"),
    "pywin32-ctypes": HostOnlyPackage(None, "a Windows-only API binding"),
    "pywinpty": HostOnlyPackage(None, "a Windows-only terminal helper"),
    "tensorflow-directml-plugin": HostOnlyPackage(
        None, "the Windows DirectML plugin for TensorFlow"
    ),
    "tensorflow-intel": HostOnlyPackage(
        None, "the Windows build of TensorFlow (only a placeholder on Linux)"
    ),
    "tensorflow-macos": HostOnlyPackage("tensorflow", "the macOS build of TensorFlow"),
    "tensorflow-metal": HostOnlyPackage(None, "the Apple GPU plugin for TensorFlow"),
    "torch-directml": HostOnlyPackage(None, "the Windows DirectML backend for torch"),
    "windows-curses": HostOnlyPackage(None, "a Windows-only curses port"),
    "wmi": HostOnlyPackage(None, "a Windows-only management binding"),
}

# Whole families published for one host only, matched by name prefix.
HOST_ONLY_PREFIXES: dict[str, HostOnlyPackage] = {
    "pyobjc": HostOnlyPackage(None, "a macOS-only Objective-C bridge"),
}


def host_only_package(name: str) -> HostOnlyPackage | None:
    """Return the host-only entry for a canonical name, or None if it is portable."""
    if name in HOST_ONLY_PACKAGES:
        return HOST_ONLY_PACKAGES[name]
    for prefix, entry in HOST_ONLY_PREFIXES.items():
        if name == prefix or name.startswith(prefix + "-"):
            return entry
    return None
