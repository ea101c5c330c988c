"""Gates: can this run tell whether recycling composes?

A recycled model that fails to compose means something only if the setup could have
composed. Each gate is a positive control with thresholds fixed in advance:

  Gate 0  the base model has the procedure: it restates a new subject in its reasoning,
          and composes familiar facts by CoT on the matched control (chains of the test's
          relations and shape whose facts it read once in pretraining)
  Gate 1  facts from pretraining compose as well as the matched control (exposure 1.0
          runs only: the test chains' facts are then in pretraining)
  Gate 2  a reference that holds both facts (`union_replay`: pooled data, replay recipe)
          knows them and composes them by chain of thought

Reported beside the gates, never deciding them (diagnostics): composition with the facts
stated in context (a relation lookup can pass the one-fact-per-relation form; the
distractor form states two facts per relation) and the reference's retention of old facts.

When a gate fails (or was not measured), the recycled rows cannot be attributed to
recycling, and every report says so first. Attribution is per run (one seed, one cell).
Over a `--base-model` (a model this run did not pretrain) the checks that read our
pretraining facts, the matched control and retention, do not apply: that model never saw
those facts. They are listed as not applicable; Gate 0 asks instead that the base compose
the facts stated in context, in the distractor form (two facts per relation), by CoT.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..tasks import Catalog
from .tables import fmt_optional

REFERENCE = "union_replay"


NOT_APPLICABLE = "n/a"


def _check(what: str, value: float | None, op: str, threshold: float, applies: bool = True) -> dict:
    if not applies:
        return {"check": what, "value": None, "threshold": f"{op} {threshold:g}", "passed": NOT_APPLICABLE}
    passed = None if value is None else (value >= threshold if op == ">=" else value <= threshold)
    return {"check": what, "value": value, "threshold": f"{op} {threshold:g}", "passed": passed}


def _gate(name: str, title: str, checks: list[dict], note: str = "") -> dict:
    values = [c["passed"] for c in checks if c["passed"] != NOT_APPLICABLE]
    passed = None if not values or None in values else all(values)
    return {"gate": name, "title": title, "passed": passed, "checks": checks, "note": note}


def evaluate_gates(rows: Sequence[dict], catalog: Catalog, exposure: float, exposure_hop: str,
                   own_pretraining: bool = True) -> list[dict]:
    """The gates of one run from its result rows (None values: the row was not evaluated).
    `own_pretraining`: the base is the built-in model this run pretrained (not a --base-model)."""
    cell = {(r["model"], r["split"]): r for r in rows if r.get("library") is None}

    def get(model: str, split: str, key: str = "accuracy") -> float | None:
        return cell.get((model, split), {}).get(key)

    cot = catalog.composed[1]  # the direct form may stay at 0 (the two-hop curse): not a gate
    matched = catalog.matched_control or catalog.controls[1]
    checks0 = [
        _check(f"base {cot}: subject restated", get("base", cot, "subject_accuracy"), ">=", 0.95),
        _check(f"base {matched} (matched control)", get("base", matched), ">=", 0.7, own_pretraining),
    ]
    if not own_pretraining and catalog.in_context_gate:
        # no matched control over a model we did not pretrain: it must compose the facts stated
        # in context instead, in the form that a relation lookup cannot pass
        checks0.append(_check(f"base {catalog.in_context_gate} (in context)", get("base", catalog.in_context_gate),
                              ">=", 0.8))
    gate0 = _gate("gate0", "base model has the procedure", checks0)
    if exposure == 1.0 and exposure_hop == "both":
        gap = None if get("base", cot) is None or get("base", matched) is None else \
            get("base", matched) - get("base", cot)
        gate1 = _gate("gate1", "pretrained facts compose like the matched control",
                      [_check(f"base {matched} - base {cot}", gap, "<=", 0.1, own_pretraining)])
    else:
        gate1 = _gate("gate1", "pretrained facts compose like the matched control", [],
                      f"needs exposure 1.0 with both hops (this run: {exposure:g}, {exposure_hop})")
    hop_a, hop_b = catalog.hops
    gate2 = _gate("gate2", f"{REFERENCE} knows both facts and composes them by CoT", [
        _check(f"{REFERENCE} {hop_a}", get(REFERENCE, hop_a), ">=", 0.95),
        _check(f"{REFERENCE} {hop_b}", get(REFERENCE, hop_b), ">=", 0.95),
        _check(f"{REFERENCE} {cot}: first hop", get(REFERENCE, cot, "first_hop_accuracy"), ">=", 0.8),
        _check(f"{REFERENCE} {cot}", get(REFERENCE, cot), ">=", 0.5),
        _check(f"{REFERENCE} {cot}: Wilson lower bound", get(REFERENCE, cot, "ci_low"), ">=", 0.3),
    ], "" if (REFERENCE, cot) in cell else f"{REFERENCE} is not among this run's references")
    return [gate0, gate1, gate2]


def diagnostics(rows: Sequence[dict], catalog: Catalog, gates: Sequence[dict] = ()) -> list[dict]:
    """The checks reported beside the gates, not deciding them: the base's composition with
    the facts in context (each in-context CoT split: bridge and answer; not one a gate reads)
    and the reference's retention."""
    cell = {(r["model"], r["split"]): r for r in rows if r.get("library") is None}
    gated = " ".join(c["check"] for g in gates for c in g["checks"]).split()
    out = []
    for split in catalog.in_context:
        if ("base", split) in cell and split not in gated:
            r = cell["base", split]
            out.append({"check": f"base {split}", "value": r["accuracy"], "bridge": r.get("first_hop_accuracy"),
                        "n": r["n"]})
    if (REFERENCE, catalog.retention) in cell:
        r = cell[REFERENCE, catalog.retention]
        out.append({"check": f"{REFERENCE} {catalog.retention}", "value": r["accuracy"], "bridge": None, "n": r["n"]})
    return out


def markdown_diagnostics(checks: Sequence[dict]) -> str:
    if not checks:
        return "(none in this run)"
    lines = ["| check (diagnostic, not a gate) | right | bridge written right | n |", "|---|---:|---:|---:|"]
    lines += [f"| {c['check']} | {fmt_optional(c['value'])} | {fmt_optional(c['bridge'])} | {c['n']} |"
              for c in checks]
    return "\n".join(lines)


def attributable(gates: Sequence[dict]) -> bool:
    """Recycled rows can be read as evidence about recycling: Gates 0 and 2 passed, and
    Gate 1 did not fail (it is measured only in exposure runs)."""
    passed = {g["gate"]: g["passed"] for g in gates}
    return bool(passed.get("gate0")) and bool(passed.get("gate2")) and passed.get("gate1") is not False


def markdown_gates(gates: Sequence[dict]) -> str:
    mark = {True: "pass", False: "FAIL", None: "not measured", NOT_APPLICABLE: "not applicable (a --base-model)"}
    lines = ["| gate | check | value | needs | result |", "|---|---|---:|---|---|"]
    for g in gates:
        if not g["checks"]:
            lines.append(f"| {g['gate']}: {g['title']} | {g['note']} | | | not applicable |")
        for c in g["checks"]:
            lines.append(f"| {g['gate']}: {g['title']} | {c['check']} | {fmt_optional(c['value'])} | "
                         f"{c['threshold']} | {mark[c['passed']]} |")
    return "\n".join(lines)


def differences_to_reference(rows: Sequence[dict], splits: Sequence[str]) -> list[dict]:
    """Each recycled row's accuracy minus `union_replay`'s on the same split (same run, so
    the same seed): what recycling loses against pooled data."""
    reference = {r["split"]: r["accuracy"] for r in rows if r["model"] == REFERENCE and r.get("library") is None}
    out = []
    for r in rows:
        if r.get("library") is not None and r["split"] in splits and r["split"] in reference:
            out.append({"model": r["model"], "library": r["library"], "split": r["split"],
                        "difference": r["accuracy"] - reference[r["split"]]})
    return out
