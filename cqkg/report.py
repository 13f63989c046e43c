"""The validation report: one Issue per problem, whichever check found it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .terms import SH

SEVERITY = {SH + "Violation": "Violation", SH + "Warning": "Warning", SH + "Info": "Info"}


@dataclass(frozen=True, order=True)
class Issue:
    """One problem: severity, the seed file and node at fault, the property, what is wrong, which check."""

    severity: str  # Violation | Warning | Info
    file: str
    focus: str
    label: str
    path: str
    message: str
    check: str  # shacl | quote | query name


@dataclass
class Report:
    """All the issues of one validation run.

    >>> Report([Issue("Warning", "seeds/x.ttl", "https://e/a", "A", "", "no zh label", "shacl")]).conforms
    True
    """

    issues: list[Issue] = field(default_factory=list)

    @property
    def violations(self) -> list[Issue]:
        """The issues of severity Violation (they fail the build)."""
        return [i for i in self.issues if i.severity == "Violation"]

    @property
    def warnings(self) -> list[Issue]:
        """Warnings and infos (they do not fail the build)."""
        return [i for i in self.issues if i.severity != "Violation"]

    @property
    def conforms(self) -> bool:
        """True when there is no violation."""
        return not self.violations

    def text(self, show_warnings: bool = True) -> str:
        """One line per issue (sorted, duplicates once), then the counts."""
        shown = sorted(set(self.issues if show_warnings else self.violations))
        lines = []
        for i in shown:
            where = f"{i.file}: " if i.file and i.file != "?" else ""
            name = (f"{i.label} <{i.focus}> " if i.label else f"<{i.focus}> ") if i.focus else ""
            path = f"{i.path}: " if i.path else ""
            lines.append(f"{i.severity}: {where}{name}{path}{i.message} [{i.check}]")
        lines.append(f"{len(self.violations)} violation(s), {len(self.warnings)} warning(s)")
        return "\n".join(lines)
