"""Typed views of the JSON documents wsgiprobe writes (see DESIGN's
contracts): a check report, a matrix of them, a bench result and a suite
report. Each keeps the whole document in ``.data`` and gives it back with
``.to_json()``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple


@dataclass(frozen=True)
class CaseResult:
    """One conformance case as the run judged it."""

    id: str
    """The case id (``environ.request-method.extension``)."""
    area: str
    """The part of PEP 3333 it is about (``environ``, ``input``, ...)."""
    level: str
    """``must``, ``should`` or ``may``."""
    outcome: str
    """``pass``, ``fail``, ``warn``, ``skip``, ``error`` or ``quirk``."""
    requirement: str
    """The words of the rule, quoted from its source."""
    source: str
    """Where the rule is written (``PEP 3333, Other HTTP Features``)."""
    expected: str
    """What the case expected to see."""
    actual: str
    """What it saw."""
    note: Optional[str] = None
    """Why the case is judged the way it is, when it needs saying."""
    expectation: Optional[Dict[str, Any]] = None
    """With ``expectations=``: ``{"outcome": ..., "change": ...}``, where
    change is ``expected``, ``broken``, ``fixed``, ``changed``, ``new`` or
    ``undecided``."""
    data: Dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The case's whole JSON object (request, response head, quirk, ...)."""

    @classmethod
    def from_json(cls, case: Dict[str, Any]) -> "CaseResult":
        return cls(
            id=case["id"],
            area=case.get("area", ""),
            level=case.get("level", ""),
            outcome=case["outcome"],
            requirement=case.get("requirement", ""),
            source=case.get("source", ""),
            expected=case.get("expected", ""),
            actual=case.get("actual", ""),
            note=case.get("note"),
            expectation=case.get("expectation"),
            data=case,
        )

    @property
    def expected_by_file(self) -> bool:
        """Whether the expectations file expected this very outcome."""
        return bool(self.expectation) and self.expectation.get("change") == "expected"


class _Document:
    data: Dict[str, Any]

    def to_json(self, indent: Optional[int] = 2) -> str:
        """The document as JSON text, as ``--json`` writes it."""
        return json.dumps(self.data, indent=indent)


class CheckReport(_Document):
    """The report of one stack checked (``wsgiprobe check --json``)."""

    def __init__(self, data: Dict[str, Any], exit_code: int = 0) -> None:
        self.data = data
        self.exit_code = exit_code
        """The command line's exit code for this run (0, 1 or 2; see
        ``wsgiprobe.EXIT_CODES``)."""
        self.cases: List[CaseResult] = [CaseResult.from_json(c) for c in data.get("cases", [])]
        """Every case run, in order."""

    @property
    def label(self) -> Optional[str]:
        """The stack's short name, in a matrix."""
        return self.data.get("label")

    @property
    def summary(self) -> Dict[str, int]:
        """Counts by outcome: total, pass, fail, warn, skip, error, quirk."""
        return dict(self.data.get("summary", {}))

    @property
    def stack(self) -> Dict[str, Any]:
        """What ran: gateway, version, command, proxy, target, ..."""
        return dict(self.data.get("stack", {}))

    @property
    def expectations(self) -> Optional[Dict[str, Any]]:
        """With ``expectations=``: the comparison with the file."""
        return self.data.get("expectations")

    @property
    def interrupted(self) -> Optional[str]:
        """The signal that cut the run short, if one did."""
        return self.data.get("interrupted")

    @property
    def ok(self) -> bool:
        """Whether the command line would exit 0."""
        return self.exit_code == 0

    def case(self, case_id: str) -> CaseResult:
        """The case with this id; KeyError when it did not run."""
        for c in self.cases:
            if c.id == case_id:
                return c
        raise KeyError(case_id)

    def failed(self) -> List[CaseResult]:
        """The cases whose outcome is ``fail``."""
        return [c for c in self.cases if c.outcome == "fail"]

    def __repr__(self) -> str:
        return f"<CheckReport {self.stack.get('gateway', '?')} {self.summary}>"


class StartFailure:
    """A stack of a matrix that could not be started."""

    def __init__(self, label: str, error: str) -> None:
        self.label = label
        self.error = error

    def __repr__(self) -> str:
        return f"<StartFailure {self.label}: {self.error}>"


class MatrixReport(_Document):
    """Several stacks checked with the same cases (``check`` with more
    than one server)."""

    def __init__(self, data: Dict[str, Any], exit_code: int = 0) -> None:
        self.data = data
        self.exit_code = exit_code
        self.runs: List[Any] = []
        """One CheckReport per stack, or a StartFailure for a stack that
        did not start; in the order given."""
        for s in data.get("stacks", []):
            if "start_error" in s:
                self.runs.append(StartFailure(s.get("label", ""), s["start_error"]))
            else:
                self.runs.append(CheckReport(s))

    @property
    def reports(self) -> Dict[str, CheckReport]:
        """The stacks that ran, by label."""
        return {r.label or "": r for r in self.runs if isinstance(r, CheckReport)}

    def __repr__(self) -> str:
        return f"<MatrixReport {[r.label for r in self.runs]}>"


class BenchResult(_Document):
    """One load run (``wsgiprobe bench --json``)."""

    def __init__(self, data: Dict[str, Any], exit_code: int = 0) -> None:
        self.data = data
        self.exit_code = exit_code

    @property
    def label(self) -> Optional[str]:
        """The stack's short name, when several were measured."""
        return self.data.get("label")

    @property
    def throughput(self) -> float:
        """Responses per second in the measured window."""
        return float(self.data.get("requests_per_sec", 0.0))

    @property
    def requests(self) -> int:
        """Requests finished in the window."""
        return int(self.data.get("requests", 0))

    @property
    def ok(self) -> int:
        """Requests that got the expected response."""
        return int(self.data.get("ok", 0))

    @property
    def errors(self) -> Dict[str, Any]:
        """Errors: total, allowed, by_kind, first."""
        return dict(self.data.get("errors", {}))

    @property
    def valid(self) -> bool:
        """Whether the run measured what it meant to (no unallowed errors,
        the generator kept up)."""
        return bool(self.data.get("valid", False))

    @property
    def statuses(self) -> Dict[int, int]:
        """Responses by HTTP status."""
        return {int(k): v for k, v in self.data.get("statuses", {}).items()}

    @property
    def percentiles(self) -> Dict[str, float]:
        """Latency in milliseconds: p50, p90, p95, p99, p99.9, min, max,
        mean, stdev (corrected for coordinated omission in the open model)."""
        lat = self.data.get("latency_us", {})
        return {k: v / 1000.0 for k, v in lat.items() if k != "count" and v is not None}

    @property
    def latency_us(self) -> Dict[str, Any]:
        """The latency figures as the JSON has them, in microseconds."""
        return dict(self.data.get("latency_us", {}))

    @property
    def histogram(self) -> List[Tuple[float, int, int]]:
        """The latency distribution: ``(percentile, latency_us, count)``
        steps, from the fastest to the slowest."""
        return [(s["percentile"], s["latency_us"], s["count"]) for s in self.data.get("spectrum", [])]

    @property
    def hdr_histogram(self) -> Dict[str, str]:
        """The full HdrHistogram (V2 compressed, base64), corrected and
        uncorrected, for tools that read that format."""
        return dict(self.data.get("histogram", {}))

    @property
    def thresholds(self) -> List[Dict[str, Any]]:
        """With ``fail_if=``: each threshold and whether it held."""
        return list(self.data.get("thresholds", []))

    def __repr__(self) -> str:
        p = self.percentiles
        return f"<BenchResult {self.throughput:.0f} req/s p50={p.get('p50', 0):.2f}ms p99={p.get('p99', 0):.2f}ms>"


class BenchSet(_Document):
    """Several stacks measured one after another."""

    def __init__(self, data: Dict[str, Any], exit_code: int = 0) -> None:
        self.data = data
        self.exit_code = exit_code
        self.runs: List[BenchResult] = [BenchResult(r) for r in data.get("runs", [])]
        """Each stack that was measured."""
        self.failed: List[StartFailure] = [
            StartFailure(f.get("label", ""), f.get("error", "")) for f in data.get("failed", [])
        ]
        """Each stack that was not."""

    def __repr__(self) -> str:
        return f"<BenchSet {[r.label for r in self.runs]}>"


class SuiteReport(_Document):
    """A suite run (``wsgiprobe suite FILE``): stacks × workloads × levels."""

    def __init__(self, data: Dict[str, Any], out: str, exit_code: int = 0) -> None:
        self.data = data
        self.out = out
        """The folder with report.json, report.md and report.html."""
        self.exit_code = exit_code

    @property
    def title(self) -> str:
        return str(self.data.get("title", ""))

    @property
    def results(self) -> List[Dict[str, Any]]:
        """Every measured point."""
        return list(self.data.get("results", []))

    @property
    def failures(self) -> List[Any]:
        """What could not be measured."""
        return list(self.data.get("failures", []))

    def __repr__(self) -> str:
        return f"<SuiteReport {self.title!r} {len(self.results)} results>"
