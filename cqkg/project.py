"""Project layout, user-facing errors and atomic file writes.

Kept free of rdflib/pyshacl/owlrl imports: `cqkg query` imports this module on its hot path.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Iterator

# Namespaces used across the package (kept as plain strings for speed).
CQKG = "https://w3id.org/cqkg/ontology#"
ID = "https://w3id.org/cqkg/id/"
SRC = "https://w3id.org/cqkg/source/"
GRAPH = "https://w3id.org/cqkg/graph/"
ONTOLOGY_GRAPH = GRAPH + "ontology"
INFERRED_GRAPH = GRAPH + "inferred"

PREFIXES: dict[str, str] = {
    "cqkg": CQKG,
    "cq": ID,
    "obs": ID + "obs/",
    "genid": ID + "genid/",
    "src": SRC,
    "ind": "https://w3id.org/cqkg/indicator/",
    "unit": "https://w3id.org/cqkg/unit/",
    "period": "https://w3id.org/cqkg/period/",
    "owl": "http://www.w3.org/2002/07/owl#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "qb": "http://purl.org/linked-data/cube#",
    "sh": "http://www.w3.org/ns/shacl#",
}

BUILD_FORMAT_VERSION = 1


class CqkgError(Exception):
    """An error meant for a person: the message names the file, node, query or URL at fault.

    `exit_code` follows the CLI's convention: 1 = the data is wrong (violations),
    2 = the input could not be read or the request makes no sense.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Project:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike | None = None) -> "Project":
        root = Path(root or os.environ.get("CQKG_PROJECT") or ".").resolve()
        return cls(root)

    @property
    def ontology_dir(self) -> Path:
        return self.root / "ontology"

    @property
    def shapes_dir(self) -> Path:
        return self.root / "shapes"

    @property
    def seeds_dir(self) -> Path:
        return self.root / "seeds"

    @property
    def queries_dir(self) -> Path:
        return self.root / "queries"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def store_dir(self) -> Path:
        return self.build_dir / "store"

    @property
    def manifest_path(self) -> Path:
        return self.build_dir / "manifest.json"

    def require_dirs(self, *names: str) -> None:
        for name in names:
            d = self.root / name
            if not d.is_dir():
                raise CqkgError(
                    f"{d}: directory not found. Run cqkg inside a cqkg project "
                    f"(a folder with ontology/, shapes/, seeds/ and queries/) or pass --project DIR."
                )

    def _files(self, d: Path, suffixes: tuple[str, ...]) -> list[Path]:
        if not d.is_dir():
            return []
        return sorted(p for p in d.rglob("*") if p.is_file() and p.suffix in suffixes)

    def ontology_files(self) -> list[Path]:
        return self._files(self.ontology_dir, (".ttl",))

    def shape_files(self) -> list[Path]:
        return self._files(self.shapes_dir, (".ttl",))

    def seed_files(self) -> list[Path]:
        return self._files(self.seeds_dir, (".ttl",))

    def text_files(self) -> list[Path]:
        return self._files(self.seeds_dir, (".txt", ".md"))

    def build_inputs(self) -> list[Path]:
        """Every file whose change makes the build stale."""
        return (
            self.ontology_files()
            + self.shape_files()
            + self._files(self.seeds_dir, (".ttl", ".txt", ".md", ".tsv"))
            # Only the quality checks take part in the build; other saved queries read its output.
            + [p for p in self._files(self.queries_dir, (".rq",)) if p.stem.endswith("-violation")]
        )

    def fingerprint(self) -> str:
        """Cheap digest of the inputs' names, sizes and modification times (a stat per file)."""
        h = hashlib.sha256()
        for p in self.build_inputs():
            st = p.stat()
            h.update(f"{p.relative_to(self.root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()

    def rel(self, path: Path | str) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def read_manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def build_is_current(self) -> bool:
        m = self.read_manifest()
        return (
            m is not None
            and m.get("format") == BUILD_FORMAT_VERSION
            and m.get("fingerprint") == self.fingerprint()
            and self.store_dir.is_dir()
        )


@contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
    """Write to a temporary file beside `path` and rename it into place only on success.

    A failure (or Ctrl-C) leaves any existing file untouched and no partial file behind.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CqkgError(f"{path}: cannot write: directory {directory} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise CqkgError(f"{path}: cannot write: {e.strerror}") from None
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make exports unreadable to others
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(fd, mode, encoding=encoding, newline=None if "b" in mode else "\n") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
