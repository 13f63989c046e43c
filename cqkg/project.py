"""A cqkg project on disk: where its folders are, which files are inputs, and atomic writes.

Kept free of rdflib/pyshacl/owlrl imports: `cqkg query` imports this module on its hot path.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import CqkgError


@dataclass(frozen=True)
class Project:
    """The folder holding ontology/, shapes/, seeds/ and queries/ (and build/ once built).

    >>> Project.at("/tmp/proj").seeds_dir
    PosixPath('/tmp/proj/seeds')
    """

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None = None) -> Project:
        """The project at `root` (default: the current folder), as an absolute path."""
        return cls(Path(root or ".").resolve())

    @classmethod
    def find(cls, start: Path) -> Project | None:
        """The nearest folder from `start` upwards that has ontology/ and seeds/, or None."""
        for d in (start, *start.parents):
            if (d / "ontology").is_dir() and (d / "seeds").is_dir():
                return cls(d.resolve())
        return None

    @property
    def ontology_dir(self) -> Path:
        """ontology/: the OWL ontology."""
        return self.root / "ontology"

    @property
    def shapes_dir(self) -> Path:
        """shapes/: the SHACL shapes."""
        return self.root / "shapes"

    @property
    def seeds_dir(self) -> Path:
        """seeds/: articles, their facts, notes and audit-ignore.tsv."""
        return self.root / "seeds"

    @property
    def queries_dir(self) -> Path:
        """queries/: the saved SPARQL queries."""
        return self.root / "queries"

    @property
    def build_dir(self) -> Path:
        """build/: what `cqkg build` writes (never edit by hand)."""
        return self.root / "build"

    @property
    def store_dir(self) -> Path:
        """build/store/: the on-disk Oxigraph store queries open."""
        return self.build_dir / "store"

    @property
    def manifest_path(self) -> Path:
        """build/manifest.json: written last; marks a complete, current build."""
        return self.build_dir / "manifest.json"

    def require_dirs(self, *names: str) -> None:
        """Raise a CqkgError naming the first of these folders that is missing."""
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
        """The ontology's Turtle files, sorted."""
        return self._files(self.ontology_dir, (".ttl",))

    def shape_files(self) -> list[Path]:
        """The SHACL shapes' Turtle files, sorted."""
        return self._files(self.shapes_dir, (".ttl",))

    def seed_files(self) -> list[Path]:
        """The seed facts' Turtle files, sorted."""
        return self._files(self.seeds_dir, (".ttl",))

    def query_files(self) -> list[Path]:
        """The saved queries (`queries/*.rq`), sorted."""
        return sorted(self.queries_dir.glob("*.rq")) if self.queries_dir.is_dir() else []

    def build_inputs(self) -> list[Path]:
        """Every file whose change makes the build stale."""
        return (
            self.ontology_files()
            + self.shape_files()
            + self._files(self.seeds_dir, (".ttl", ".txt", ".md", ".tsv"))
            # Only the quality checks take part in the build; other saved queries read its output.
            + [p for p in self._files(self.queries_dir, (".rq",)) if p.stem.endswith("-violation")]
        )

    def input_state(self) -> dict[str, dict[str, Any]]:
        """Every build input by relative path: size, modification time and SHA-256 of its content."""
        state = {}
        for p in self.build_inputs():
            st = p.stat()
            state[p.relative_to(self.root).as_posix()] = {
                "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": _sha256(p),
            }  # fmt: skip
        return state

    def changed_inputs(self, recorded: dict[str, dict[str, Any]]) -> list[str]:
        """What differs from `recorded` (an input_state), as 'PATH changed' / 'added' / 'removed'.

        Content decides: a file whose size and time are as recorded is taken as unchanged without
        reading it; one whose time moved (a `touch`, a checkout) is hashed, and counts only if its
        content differs.
        """
        out = []
        now = {p.relative_to(self.root).as_posix(): p for p in self.build_inputs()}
        for rel, path in sorted(now.items()):
            was = recorded.get(rel)
            if not isinstance(was, dict):
                out.append(f"{rel} added")
                continue
            st = path.stat()
            if st.st_size == was.get("size") and st.st_mtime_ns == was.get("mtime_ns"):
                continue
            if st.st_size != was.get("size") or _sha256(path) != was.get("sha256"):
                out.append(f"{rel} changed")
        out += [f"{rel} removed" for rel in sorted(set(recorded) - set(now))]
        return out

    def rel(self, path: Path | str) -> str:
        """`path` relative to the project root, for messages (as given when outside it)."""
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return str(path)


def pid_alive(pid: int) -> bool:
    """Is there a process with this PID (ours or another user's)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(directory: Path, name: str) -> list[str]:
    """Remove `.NAME.<pid>.<random>.tmp` files that a killed writer left (its PID is gone)."""
    removed = []
    for tmp in directory.glob(f".{glob.escape(name)}.*.tmp"):
        pid = tmp.name[len(name) + 2 :].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            try:
                tmp.unlink()
            except OSError:
                continue
            removed.append(tmp.name)
    return removed


def describe_changes(changes: list[str], most: int = 5) -> str:
    """'a changed, b added, and 3 more' for messages."""
    more = f", and {len(changes) - most} more" if len(changes) > most else ""
    return ", ".join(changes[:most]) + more


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO[Any]]:
    """Write to a temporary file beside `path` and rename it into place only on success.

    A failure (or Ctrl-C) leaves any existing file untouched and no partial file behind.

    >>> with atomic_output("/tmp/cqkg-doctest.txt") as f:
    ...     _ = f.write("all or nothing")
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise CqkgError(f"{path}: cannot write: directory {directory} does not exist")
    remove_stale_temporaries(directory, path.name)
    try:
        # The PID in the name tells a later run whether the writer is gone (see below).
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=directory)
    except OSError as e:
        raise CqkgError(f"{path}: cannot write: {e.strerror}") from None
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make exports unreadable to others
        encoding = None if "b" in mode else "utf-8"
        try:
            with os.fdopen(fd, mode, encoding=encoding, newline=None if "b" in mode else "\n") as f:
                yield f
            os.replace(tmp, path)
        except OSError as e:  # a full disk, a quota, an I/O error: the old file stays
            raise CqkgError(f"{path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def replace_folder(out: Path, write: Callable[[Path], None]) -> None:
    """Fill a new folder with `write(folder)` beside `out`, then put it in the place of `out`
    whole: a failure (or Ctrl-C) leaves the old folder as it was and nothing half-written."""
    tmp = out.with_name(out.name + ".partial")
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    except OSError as e:
        raise CqkgError(f"{out}: cannot write: {e.strerror or e}") from None
    try:
        write(tmp)
        if out.exists():
            old = out.with_name(out.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CqkgError(f"{out}: cannot write: {e.strerror or e}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def run_tool(argv: list[str], what: str, *, timeout: float, stdin: bytes | None = None,
             env: dict[str, str] | None = None) -> bytes:  # fmt: skip
    """The output of a helper program; a CqkgError naming `what` when it times out or fails (with
    the last line it wrote to stderr). FileNotFoundError (no such program) is the caller's."""
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CqkgError(f"{what} took over {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise CqkgError(f"{what}: {lines[-1] if lines else 'failed'}")
    return done.stdout


def git(root: Path, *args: str) -> bytes:
    """The output of `git -C root ARGS`; a CqkgError with git's last line when it fails."""
    try:
        return run_tool(["git", "-C", str(root), *args], f"git {' '.join(args)}", timeout=120)
    except FileNotFoundError:
        raise CqkgError(
            "git is not installed: it is needed to read revisions and tags; give files or folders instead"
        ) from None
