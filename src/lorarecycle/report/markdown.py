"""report.md for one experiment directory."""

from __future__ import annotations

from collections.abc import Sequence

from ..tasks import Catalog
from .gates import REFERENCE, differences_to_reference, markdown_diagnostics, markdown_gates
from .tables import (fmt_optional, markdown_accuracy, markdown_composition, markdown_errors, markdown_loglik,
                     markdown_selection, markdown_steps)


def routing_section(routing: dict) -> str:
    """Mean gate per expert on each segment of the traced two-hop texts, and the figures."""
    if not routing:
        return "No routed method in this run."
    parts = []
    for name, means in routing.items():
        experts = list(next(iter(means.values())))
        lines = [f"### {name}", "", f"![routing trace {name}](figures/routing-{name}.png)", "",
                 "| segment | " + " | ".join(experts) + " |", "|---|" + "---:|" * len(experts)]
        order = ["cot/question", "cot/hop1", "cot/hop2", "cot/answer", "direct/question", "direct/answer"]
        for seg in sorted(means, key=lambda k: order.index(k) if k in order else len(order)):
            lines.append(f"| {seg} | " + " | ".join(f"{means[seg][e]:.2f}" for e in experts) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def familiarity_section(summary: Sequence[dict]) -> str:
    if not summary:
        return "(not measured)"
    lines = [f"| {r['role']} | {'yes' if r['familiar'] else 'no'} | {r['n']} | {fmt_optional(r['name_logprob'])} | "
             f"{fmt_optional(r['rest_logprob'])} | {fmt_optional(r.get('uniform_logprob'))} |" for r in summary]
    return "\n".join(["| role | familiar | n | name log p / token | rest log p / token | uniform over vocabulary |",
                      "|---|---|---:|---:|---:|---:|", *lines])


def differences_section(rows: Sequence[dict]) -> str:
    diffs = differences_to_reference(rows, list(dict.fromkeys(r["split"] for r in rows)))
    if not diffs:
        return f"`{REFERENCE}` is not among this run's references."
    splits = list(dict.fromkeys(d["split"] for d in diffs))
    cells = {(f"{d['model']} [{d['library']}]", d["split"]): d["difference"] for d in diffs}
    labels = list(dict.fromkeys(f"{d['model']} [{d['library']}]" for d in diffs))
    lines = ["| model [library] | " + " | ".join(splits) + " |", "|---|" + "---:|" * len(splits)]
    lines += [f"| {label} | " + " | ".join(f"{cells[label, s]:+.2f}" if (label, s) in cells else "" for s in splits)
              + " |" for label in labels]
    return "\n".join(lines)


def split_legend(rows: Sequence[dict], catalog: Catalog) -> str:
    """What the accuracy table's splits ask, in the task's words: only those the run has (a
    --base-model run has no control or retention split: that model never read our pretraining)."""
    splits = {r["split"] for r in rows}
    lines = [f"- {text}" for first, text in catalog.legend if first in splits or first.replace("_direct", "_cot")
             in splits]
    if splits and not splits & set(catalog.pretraining_splits):
        lines.append("- no control or retention split: they ask our pretraining facts, and this run's base model "
                     "was not pretrained by it")
    return "Splits:\n\n" + "\n".join(lines)


def machine_text(machine: dict) -> str:
    """The machine in words, in one order whether or not the probe's figures came from the cache."""
    if "gpu" in machine:
        return f"GPU {machine['gpu']}"
    text = ", ".join(str(machine[k]) for k in ("cpu", "capability") if k in machine)
    if "threads" in machine:
        text += f", {machine['threads']} threads"
    if "fp32_gflops" in machine:
        size = machine.get("probe_size", "")
        text += (f"; matmul {size}² fp32 {machine['fp32_gflops']:.0f} / bf16 {machine['bf16_gflops']:.0f} GFLOP/s"
                 f" (probed {machine.get('measured', 'earlier')})")
    return text or "not recorded"


def render_report(manifest: dict, rows: Sequence[dict], catalog: Catalog) -> str:
    """report.md: the run and its verdict, the results, the mechanisms, the trained stages."""
    return "".join((_results(manifest, rows, catalog), _familiarity(manifest), _mechanisms(manifest, rows),
                    _stages(manifest)))


CONTROLS_ONLY = ("\n*Controls only (`--controls-only`): the base and the gates' reference; the same command "
                 "without it resumes here and adds the experts and the recycled rows.*\n")


def _results(manifest: dict, rows: Sequence[dict], catalog: Catalog) -> str:
    base = manifest.get("base", {})
    return f"""# lorarecycle experiment `{manifest['name']}`

**{manifest.get("headline", "")}**
{CONTROLS_ONLY if manifest.get("controls_only") else ""}
- config hash `{manifest['config_hash']}`, seed {manifest['seed']}, familiarity {manifest['familiarity']}, exposure {manifest['exposure']}
- base model: `{base.get('path')}` (pretraining: {base.get('pretrain', 'not ours')})
- versions: {manifest.get('versions')}
- precision: {manifest.get('precision')}; machine: {machine_text(manifest.get('machine') or {})}

## Gates (positive controls, thresholds fixed in advance)

{markdown_gates(manifest.get("gates", []))}

Diagnostics, not gates: composition with the facts stated in context (one fact per relation,
which a relation lookup can pass; and with a second fact of each relation, where a lookup
is right half the time), and the reference's retention of old facts.

{markdown_diagnostics(manifest.get("gate_diagnostics", []))}

## Composition given knowledge

Of the test chains whose two facts a model recalls on their own (each asked directly), how
many its chain of thought composes; and how many of its wrong composed answers fall on a
chain with a fact missing (what lost knowledge explains).

{_composition_figure(manifest)}{markdown_composition(manifest.get("composition", []))}

## Accuracy (exact match, 95% Wilson interval)

{split_legend(rows, catalog)}

{markdown_accuracy(rows)}

Rows are grouped by what they need: nothing beyond the library (`data-free`), a few
examples (`few-shot (n)`), the test labels (`oracle`), or the experts' training data or
more (`data-access`). `oracle_expert` is the best single library expert per split, picked
with the test labels: the ceiling of one-expert-per-split selection (per-query selectors
can exceed it).

"""


def _composition_figure(manifest: dict) -> str:
    if not manifest.get("composition_figure"):
        return ""
    return ("![composition given knowledge](figures/composition.png)\n\n*One point per model: both facts "
            "recalled (x) against CoT right given both (y, 95% Wilson interval).*\n\n")


def _familiarity(manifest: dict) -> str:
    return f"""## Familiarity of the test entities, measured on the base model

Mean log-probability per token of each name where the task's text expects a name (`name`),
and of its words after the first given the first (`rest`, multi-word names); `familiar` is
the design (seen in our pretraining, or a real entity); `reference` is a group of names
pretraining holds, scored the same way; uniform: -log(vocabulary size). Higher = better
known; a score far below the reference group means the name is new to the model. Prompt format:
{manifest.get("prompt_format", "plain")}.

{familiarity_section(manifest.get("measured_familiarity", []))}

"""


def _mechanisms(manifest: dict, rows: Sequence[dict]) -> str:
    return f"""## Per-query selection

Share of test questions each selector sent to each expert.

{markdown_selection(rows)}

## Chain-of-thought steps

Where a chain of thought fails: the subject restated in the first step, the first hop
(the bridge), the second hop given a right first hop, the final answer.

{markdown_steps(rows)}

## Log-likelihood ranking of the answer

Generation-free: the gold completion against the same completion with another answer of
the split in its place; top-1 = the gold one is the most likely. A model that ranks the
answer first but does not write it has the knowledge and lacks the format or the budget.

{markdown_loglik(rows)}

## Recycled rows against `{REFERENCE}`

Accuracy minus `{REFERENCE}`'s on the same split, same run and seed (negative: recycling
loses against pooling the data).

{differences_section(rows)}

## Errors of the composed questions

{markdown_errors(rows)}

## Routing traces

Teacher-forced on the gold text of the first test chains: the mean gate of each expert
(over layers and tokens) on each segment. A router that composes would weight the hop-1
expert on `cot/hop1` and the hop-2 expert on `cot/hop2`.

{routing_section(manifest.get("routing", {}))}

"""


def _stages(manifest: dict) -> str:
    experts = manifest.get("experts", {})
    expert_lines = "\n".join(
        f"| {name} | {m['train']['examples']} | {m['train']['steps']} | {m['train']['final_loss']:.4f} | {m['train']['seconds']} |"
        for name, m in experts.items()
    )
    diag_lines = "\n".join(
        f"| {lib} | {r['a']} ~ {r['b']} | {r['column_overlap']:.3f} | {r['row_overlap']:.3f} | {r['delta_cosine']:+.3f} | "
        f"{r['sign_conflict']:.3f} | {r['norm_ratio']:.2f} |"
        for lib, pairs in manifest.get("diagnostics", {}).items() for r in pairs
    )
    return f"""## Adapter diagnostics (data-free, median over modules)

Overlap: mean squared cosine of the principal angles between the experts' column (B) and
row (A) spaces; sign conflict: share of delta-W entries whose signs differ (0.5 = unrelated).

| library | pair | column overlap | row overlap | delta-W cosine | sign conflict | norm ratio |
|---|---|---:|---:|---:|---:|---:|
{diag_lines}

## Experts

| expert | examples | steps | final loss | seconds |
|---|---:|---:|---:|---:|
{expert_lines}
"""
