"""The README's tables of this grid, from the committed files alone: per seed, the gates'
checks and the diagnostics beside them; pooled over seeds, each model's two-hop CoT and its
composition given knowledge (needs the package installed: `make setup`). A grid over
familiarity too labels each run "familiarity / seed".

    python docs/results/default-seeds/seeds_table.py [GRID_DIR [COMPOSED_COT_SPLIT]]

(the math grid: `docs/results/math/ math_cot`; the paper's: `docs/results/paper-two-hop-v2/`)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lorarecycle.evaluate.composition import pool
from lorarecycle.evaluate.metrics import wilson_interval



def value(checks: dict, name: str) -> str:
    check = checks.get(name)
    if check is None or check["value"] is None:  # not measured, or not applicable (a --base-model)
        return "-" if check is None or check["passed"] is None else str(check["passed"])
    return f"**{check['value']:.2f}**" if check["passed"] is False else f"{check['value']:.2f}"


def run_label(manifest: dict, by_familiarity: bool) -> str:
    return f"{manifest['familiarity']} / {manifest['seed']}" if by_familiarity else str(manifest["seed"])


def cell_rows(cell: Path) -> list[dict]:
    return [json.loads(line) for line in (cell / "results.jsonl").read_text().splitlines() if line.strip()]


def per_seed(cells: list[tuple[dict, Path]], by_familiarity: bool) -> None:
    print(f"| {'familiarity / seed' if by_familiarity else 'seed'} | Gate 0 checks | Gate 2 checks | attributable | diagnostics (value, bridge right) |")
    print("|---|---|---|---|---|")
    for manifest, _ in cells:
        gates = {g["gate"]: g for g in manifest["gates"]}
        text = {name: " / ".join(f"{c['check']} {value({c['check']: c}, c['check'])}" for c in gates[name]["checks"])
                for name in ("gate0", "gate2")}
        diag = " / ".join(f"{d['check']} {d['value']:.2f}" + (f" ({d['bridge']:.2f})" if d.get("bridge") is not None
                                                              else "") for d in manifest.get("gate_diagnostics", []))
        print(f"| {run_label(manifest, by_familiarity)} | {text['gate0']} | {text['gate2']} | "
              f"{'yes' if manifest['attributable'] else 'no'} | {diag} |")


def pooled(cells: list[tuple[dict, Path]], attributable_only: bool, split: str, by_familiarity: bool) -> None:
    chosen = [(m, c) for m, c in cells if m["attributable"] or not attributable_only]
    cot: dict[tuple, list[int]] = {}
    for manifest, cell in chosen:
        for r in cell_rows(cell):
            if r["split"] == split:
                acc = cot.setdefault((r["model"], r["library"]), [0, 0])
                acc[0] += r["correct"]
                acc[1] += r["n"]
    given = {(e["model"], e["library"]): e for e in pool(e for m, _ in chosen for e in m.get("composition", []))}
    runs = ", ".join(run_label(m, by_familiarity) for m, _ in chosen)
    what = "cells" if by_familiarity else "seeds"
    print(f"\npooled over {what} {runs} ({f'attributable {what} only' if attributable_only else f'all {what}'}):\n")
    print(f"| model [library] | {split} [95% Wilson] | both facts recalled | CoT right given both [95%] | "
          "wrong with a fact missing |")
    print("|---|---|---|---|---|")
    for (model, library), (k, n) in cot.items():
        low, high = wilson_interval(k, n)
        label = model if library is None else f"{model} [{library}]"
        g = given.get((model, library))
        given_text = "-" if not g or g["given_both"] is None else \
            f"{g['right_given_both']} / {g['both_recalled']} = {g['given_both']:.2f} [{g['ci_low']:.2f}, {g['ci_high']:.2f}]"
        missing = f"{g['wrong_with_fact_missing']} / {g['wrong']}" if g and g["wrong"] else "-"
        print(f"| {label} | {k} / {n} = {k / n:.2f} [{low:.2f}, {high:.2f}] | {g['both_recalled'] if g else '-'} / {n} | "
              f"{given_text} | {missing} |")


def per_familiarity(cells: list[tuple[dict, Path]], split: str) -> None:
    """Each model's answers right on `split`, hop1 and hop2, pooled over each familiarity's
    attributable cells: where recycling stands as the entities get more familiar."""
    counts: dict[tuple, dict[str, list[int]]] = {}
    order = [f for f in "FHR" if any(m["familiarity"] == f for m, _ in cells)]
    for manifest, cell in cells:
        if not manifest["attributable"]:
            continue
        for r in cell_rows(cell):
            if r["split"] in (split, "hop1", "hop2"):
                per_model = counts.setdefault((r["model"], r["library"]), {})
                acc = per_model.setdefault(f"{manifest['familiarity']}:{r['split']}", [0, 0])
                acc[0] += r["correct"]
                acc[1] += r["n"]
    cells_per = {f: sum(m["attributable"] for m, _ in cells if m["familiarity"] == f) for f in order}
    print(f"\nper familiarity, attributable cells only ({', '.join(f'{f}: {k}' for f, k in cells_per.items())}); "
          f"{split} right / hop1 / hop2 recalled alone:\n")
    print("| model [library] | " + " | ".join(order) + " |")
    print("|---|" + "---|" * len(order))
    for (model, library), acc in counts.items():
        label = model if library is None else f"{model} [{library}]"
        text = []
        for f in order:
            cot, h1, h2 = (acc.get(f"{f}:{s}", [0, 0]) for s in (split, "hop1", "hop2"))
            text.append(f"{cot[0]} / {cot[1]} · {h1[0] / max(h1[1], 1):.2f} / {h2[0] / max(h2[1], 1):.2f}" if cot[1] else "-")
        print(f"| {label} | " + " | ".join(text) + " |")


def main() -> None:
    grid = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent
    split = sys.argv[2] if len(sys.argv) > 2 else "twohop_cot"
    cells = sorted(((json.loads(p.read_text()), p.parent) for p in grid.glob("cells/*/run.json")),
                   key=lambda c: ("FHR".find(c[0]["familiarity"]), c[0]["seed"]))
    by_familiarity = len({m["familiarity"] for m, _ in cells}) > 1
    per_seed(cells, by_familiarity)
    if any(m["attributable"] for m, _ in cells):
        pooled(cells, attributable_only=True, split=split, by_familiarity=by_familiarity)
    if not all(m["attributable"] for m, _ in cells):
        pooled(cells, attributable_only=False, split=split, by_familiarity=by_familiarity)
    if by_familiarity:
        per_familiarity(cells, split)


if __name__ == "__main__":
    main()
