"""The selection ceiling: per library and split, the best single expert of the library,
chosen with the test labels (so an upper bound for any one-expert-per-split selector)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ORACLE = "oracle_expert"
ORACLE_REQUIREMENT = "oracle (test labels)"


def oracle_rows(results: Sequence[dict], libraries: Mapping[str, Sequence[str]]) -> list[dict]:
    singles = {(r["model"].removeprefix("expert:"), r["split"]): r for r in results if r["method"] == "single_expert"}
    rows = []
    for library, experts in libraries.items():
        for split in dict.fromkeys(r["split"] for r in results):
            candidates = [singles[(e, split)] for e in experts if (e, split) in singles]
            if len(candidates) != len(experts):
                continue
            best = max(candidates, key=lambda r: r["accuracy"])
            rows.append({**best, "model": ORACLE, "library": library, "method": ORACLE,
                         "data_requirement": ORACLE_REQUIREMENT, "data_access": "oracle",
                         "oracle_of": best["model"]})
    return rows
