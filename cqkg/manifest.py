"""What a finished build left: its manifest, whether it is current, and its store, opened read-only.

Light (pyoxigraph only): `cqkg query` and `cqkg serve` use it on every run; the pipeline that
writes builds lives in build.py.
"""

from __future__ import annotations

import json
from typing import Any

import pyoxigraph as ox

from . import __version__
from .errors import CqkgError
from .project import Project, describe_changes

# Bump when the layout of build/ changes, so an older build is rebuilt rather than misread.
BUILD_FORMAT_VERSION = 1


def read_manifest(project: Project) -> dict[str, Any] | None:
    """build/manifest.json, or None when it is missing or unreadable."""
    try:
        data = json.loads(project.manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def made_by_this_version(manifest: dict[str, Any]) -> bool:
    """Was the build made by this cqkg, in this layout of build/ (else it is rebuilt, never read)?"""
    return manifest.get("format") == BUILD_FORMAT_VERSION and manifest.get("cqkg_version") == __version__


def staleness(project: Project) -> str | None:
    """Why build/ is not current ('missing', 'from cqkg …', 'out of date: …'), or None when it is."""
    m = read_manifest(project)
    if m is None or not project.store_dir.is_dir():
        return "missing"
    if not made_by_this_version(m):
        return f"from cqkg {m.get('cqkg_version', 'of another version')}"  # an upgrade may build differently
    changes = project.changed_inputs(m["inputs"]) if isinstance(m.get("inputs"), dict) else ["its inputs"]
    return "out of date: " + describe_changes(changes) if changes else None


def build_is_current(project: Project) -> bool:
    """Is build/ complete, of this format and cqkg version, and built from the inputs as they are now?"""
    return staleness(project) is None


def open_store(project: Project) -> ox.Store:
    """The built store, opened read-only."""
    # Resolve build/store once: RocksDB opens each file by path, and a link that flips to a new
    # build half-way would mix two stores' files ("Sst file size mismatch").
    try:
        return ox.Store.read_only(str(project.store_dir.resolve()))
    except OSError as e:
        raise CqkgError(f"{project.rel(project.store_dir)}: cannot open the built store: {e}") from None
