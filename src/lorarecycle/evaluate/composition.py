"""Composition given knowledge: of the test chains whose two facts a model recalls on their
own (each asked directly, in the hop splits), how many its chain of thought composes.

A recycled model that fails the composed question can fail because it lost a fact or
because it cannot compose the facts it keeps; this separates the two, per model, from the
per-question samples a run writes (samples.jsonl: model, library, split, chain, correct)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .metrics import wilson_interval


def composition_given_knowledge(samples: Iterable[dict], hops: Sequence[str], composed: str) -> list[dict]:
    """One entry per (model, library) that has all three splits: chains asked, chains whose
    both facts it recalls, its composed answers right overall and given both facts (with a
    Wilson interval), and the share of its wrong composed answers on a chain with a fact
    missing (what a lost fact explains)."""
    correct: dict[tuple, dict[str, dict[str, bool]]] = {}
    for s in samples:
        if s["split"] in (*hops, composed) and s.get("chain"):
            correct.setdefault((s["model"], s["library"]), {}).setdefault(s["split"], {})[s["chain"]] = s["correct"]
    out = []
    for (model, library), by_split in correct.items():
        if not all(split in by_split for split in (*hops, composed)):
            continue
        chains = [c for c in by_split[composed] if all(c in by_split[h] for h in hops)]
        known = [c for c in chains if all(by_split[h][c] for h in hops)]
        wrong = [c for c in chains if not by_split[composed][c]]
        out.append(_with_rate({
            "model": model, "library": library, "n": len(chains), "both_recalled": len(known),
            "composed_right": sum(by_split[composed][c] for c in chains),
            "right_given_both": sum(by_split[composed][c] for c in known),
            "wrong": len(wrong), "wrong_with_fact_missing": sum(1 for c in wrong if c not in known),
        }))
    # the base first, then single adapters and references, then recycled models (each in run order)
    return sorted(out, key=lambda e: 0 if e["model"] == "base" else 1 if e["library"] is None else 2)


COUNTS = ("n", "both_recalled", "composed_right", "right_given_both", "wrong", "wrong_with_fact_missing")


def _with_rate(counts: dict) -> dict:
    """The counts plus CoT right given both facts, with its Wilson interval (None without such a chain)."""
    k, n = counts["right_given_both"], counts["both_recalled"]
    low, high = wilson_interval(k, n) if n else (None, None)
    return {**counts, "given_both": k / n if n else None, "ci_low": low, "ci_high": high}


def pool(entries: Iterable[dict]) -> list[dict]:
    """The same counts summed over runs (seeds, cells) per (model, library)."""
    summed: dict[tuple, dict] = {}
    for e in entries:
        acc = summed.setdefault((e["model"], e["library"]), {"model": e["model"], "library": e["library"], "runs": 0,
                                                             **dict.fromkeys(COUNTS, 0)})
        for k in COUNTS:
            acc[k] += e[k]
        acc["runs"] += 1
    return [_with_rate(acc) for acc in summed.values()]
