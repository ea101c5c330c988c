"""Diagnostics of a set of adapters: per module and pair, then medians per pair."""

from __future__ import annotations

import itertools
import statistics

from ..adapters.lora_io import LoraAdapter
from .ops import delta_cosine, delta_norm, effective_rank, principal_angle_cosines, sign_conflict_rate


def subspace_overlap(cosines) -> float:
    """Mean squared cosine of the principal angles: 1 = same subspace, ~r/d = random."""
    return float((cosines**2).mean()) if len(cosines) else 0.0


def pair_rows(adapters: list[LoraAdapter], labels: list[str], density: float) -> list[dict]:
    """Per module and pair of adapters. A module whose delta W is zero (B = 0, as PEFT
    initialises it, or an adapter that learned nothing) has no subspace to compare and is
    left out of its pairs; `adapter_rows` shows it (norm 0, effective rank 0)."""
    rows = []
    for (i, a), (j, b) in itertools.combinations(enumerate(adapters), 2):
        for name in sorted(set(a.modules) & set(b.modules)):
            ma, mb = a.modules[name], b.modules[name]
            norm_a, norm_b = delta_norm(ma), delta_norm(mb)
            if norm_a == 0 or norm_b == 0:
                continue
            cols = principal_angle_cosines(ma.B, mb.B)
            rws = principal_angle_cosines(ma.A.T, mb.A.T)
            rows.append({
                "a": labels[i], "b": labels[j], "module": name,
                "column_overlap": subspace_overlap(cols), "column_max_cos": float(cols.max()),
                "row_overlap": subspace_overlap(rws), "row_max_cos": float(rws.max()),
                "delta_cosine": delta_cosine(ma, mb), "sign_conflict": sign_conflict_rate(ma, mb, density),
                "norm_ratio": norm_a / norm_b,
            })
    return rows


def adapter_rows(adapters: list[LoraAdapter], labels: list[str]) -> list[dict]:
    return [{"adapter": label, "module": name, "rank": m.rank, "effective_rank": effective_rank(m), "norm": delta_norm(m)}
            for label, a in zip(labels, adapters) for name, m in sorted(a.modules.items())]


PAIR_STATS = ("column_overlap", "row_overlap", "delta_cosine", "sign_conflict", "norm_ratio")


def summarize_pairs(rows: list[dict]) -> list[dict]:
    out = []
    for key in dict.fromkeys((r["a"], r["b"]) for r in rows):
        mine = [r for r in rows if (r["a"], r["b"]) == key]
        out.append({"a": key[0], "b": key[1], "modules": len(mine),
                    **{s: statistics.median(r[s] for r in mine) for s in PAIR_STATS}})
    return out


def summarize_adapters(rows: list[dict], adapters: list[LoraAdapter], labels: list[str]) -> list[dict]:
    everything = set().union(*(a.modules for a in adapters))
    out = []
    for label, adapter in zip(labels, adapters):
        mine = [r for r in rows if r["adapter"] == label]
        out.append({"adapter": label, "modules": len(mine), "missing_modules": len(everything - set(adapter.modules)),
                    "median_effective_rank": statistics.median(r["effective_rank"] for r in mine),
                    "total_norm": sum(r["norm"] ** 2 for r in mine) ** 0.5})
    return out
