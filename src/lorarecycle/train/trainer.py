"""A minimal causal-LM training loop (AdamW, warmup + cosine, bf16 autocast where the run computes in bf16).

Hand-written rather than `transformers.Trainer`: at these sizes the Trainer's per-step
overhead dominates, and we want a rich progress bar and exact control of seeding.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ..config import TrainSpec
from ..errors import UserError
from ..model.batching import IGNORE, collate, encode_example
from ..model.precision import autocast
from ..tasks.example import Example
from ..ui import progress_bar


class TrainingDiverged(UserError):
    """The loss or the weights became non-finite: the stage stops before anything is saved."""


def length_bucketed_batches(lengths: Sequence[int], batch_size: int, generator: torch.Generator) -> list[list[int]]:
    """Shuffled batches of similar length (sorted within windows of 16 batches), so padding
    does not double the cost when short facts and long chain-of-thought texts mix."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    window = 16 * batch_size
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    perm = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in perm]


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warmup, then cosine decay to 10% of the peak."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


def scored_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token loss over the scored positions, computing the LM head on those
    positions only (no logits for prompt positions that carry no loss; measured 1.06x per
    LoRA step at SmolLM2's shapes, benchmarks/train_real_shape.py). Same value as
    `model(**batch).loss`. Falls back to that where the decoder body is not
    reachable (an architecture without `get_decoder`)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = base.get_decoder() if hasattr(base, "get_decoder") else None
    head = base.get_output_embeddings()
    if decoder is None or head is None or getattr(base.config, "final_logit_softcapping", None):
        return model(**batch).loss
    hidden = decoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    targets = batch["labels"][:, 1:]
    scored = targets != IGNORE
    if not scored.any():
        return hidden.sum() * 0.0  # nothing to learn from: a zero loss that still has a graph
    logits = head(hidden[:, :-1][scored])
    return torch.nn.functional.cross_entropy(logits.float(), targets[scored])


def kl_to_adapter_off(model, batch: dict[str, torch.Tensor], rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean next-token loss over the scored positions (as `scored_loss`), and the summed
    KL(base || model) over every next-token prediction of the `rows` (a bool per sequence),
    the base being this PEFT model with its adapter switched off."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits[:, :-1]
    targets = batch["labels"][:, 1:]
    scored = targets != IGNORE
    loss = (torch.nn.functional.cross_entropy(logits[scored].float(), targets[scored]) if scored.any()
            else logits.sum() * 0.0)
    ids, mask = batch["input_ids"][rows], batch["attention_mask"][rows]
    with torch.no_grad(), model.disable_adapter():
        reference = model(input_ids=ids, attention_mask=mask).logits[:, :-1]
    predicted = mask[:, 1:].bool()  # the positions whose next token is text, not padding
    kl = torch.nn.functional.kl_div(logits[rows][predicted].float().log_softmax(-1),
                                    reference[predicted].float().log_softmax(-1), log_target=True, reduction="sum")
    return loss, kl


def accumulate_gradients(model, rows: Sequence[tuple[list[int], list[int]]], pad_id: int, device: torch.device,
                         spec: TrainSpec, distill: Sequence[bool] = (), kl_weight: float = 0.0) -> tuple[torch.Tensor, int]:
    """Backward the batch's mean token loss, in micro-batches of `spec.micro_batch_size`
    (each weighted by its share of the scored tokens: the same gradient as one pass), plus
    `kl_weight` x the mean KL to the adapter-off model over the `distill` rows' positions.
    Returns (loss, tokens seen)."""
    size = spec.micro_batch_size or len(rows)
    starts, distill = range(0, len(rows), size), list(distill) or [False] * len(rows)
    chunks = [collate(rows[i : i + size], pad_id) for i in starts]
    flags = [torch.tensor(distill[i : i + size], dtype=torch.bool) for i in starts]
    scored = [int((c["labels"][:, 1:] != IGNORE).sum()) for c in chunks]
    predicted = [int(c["attention_mask"][f][:, 1:].sum()) for c, f in zip(chunks, flags)]
    total, tokens = torch.zeros(()), 0
    for chunk, n, rows_kl, k in zip(chunks, scored, flags, predicted):
        batch = {key: v.to(device) for key, v in chunk.items()}
        with autocast(device):
            if kl_weight > 0 and k:
                ce, kl = kl_to_adapter_off(model, batch, rows_kl.to(device))
                loss = ce * (n / max(1, sum(scored))) + kl_weight * kl / sum(predicted)
            else:
                loss = scored_loss(model, batch) * (n / max(1, sum(scored)))
        loss.backward()
        total += loss.detach().float().cpu()
        tokens += int(chunk["attention_mask"].sum())
    return total, tokens


def check_lengths(epochs: Iterable[Sequence[tuple[list[int], list[int]]]], model, description: str) -> None:
    """Refuse sequences longer than the model's positions, in any epoch, before the first step:
    rotary models would train on them silently, at positions they never use at inference
    (e.g. a long real-LM chat turn in a small model's window). Fresh texts differ by epoch,
    so each epoch's rows are checked."""
    limit = getattr(model.config, "max_position_embeddings", None)
    if not limit:
        return
    for epoch, rows in enumerate(epochs):
        over = [len(ids) for ids, _ in rows if len(ids) > limit]
        if over:
            raise UserError(f"{description}: {len(over)} training sequences of epoch {epoch + 1} are longer than the "
                            f"model's {limit} positions (longest {max(over)} tokens); raise model.max_positions "
                            "or shorten the texts (world.name_words, prompt.shots)")


def check_steps(sizes: list[int], batch_size: int, description: str) -> int:
    """Steps per epoch, the same in every epoch (the schedule counts on it), or a ValueError
    before the first step."""
    steps = math.ceil(sizes[0] / batch_size)
    for epoch, size in enumerate(sizes[1:], 2):
        if math.ceil(size / batch_size) != steps:
            raise ValueError(f"{description}: epoch {epoch} has {size} examples, the first had a different number "
                             "of steps; fresh(epoch) must give the same number every epoch")
    return steps


def encoded_epochs(tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example], n_epochs: int,
                   loss_on_prompt: bool, fresh: Callable[[int], Sequence[Example]] | None
                   ) -> list[tuple[list[tuple[list[int], list[int]]], list[bool]]]:
    """(rows, distill marks) of every epoch: the fixed examples, plus that epoch's fresh ones.
    Encoded once, up front, so a long sequence is refused before the first step (encoding
    the default pretraining's fresh texts costs ~1.8 s an epoch: not worth doing twice)."""
    fixed = [encode_example(tokenizer, ex, loss_on_prompt) for ex in examples]
    fixed_distill = [ex.distill for ex in examples]
    if not fresh:
        return [(fixed, fixed_distill)]
    epochs = []
    for epoch in range(n_epochs):
        new = list(fresh(epoch))
        epochs.append((fixed + [encode_example(tokenizer, ex, loss_on_prompt) for ex in new],
                       fixed_distill + [ex.distill for ex in new]))
    return epochs


def optimizer_and_schedule(params: list[torch.nn.Parameter], spec: TrainSpec, total: int, device: torch.device):
    """AdamW with linear warmup and cosine decay over `total` steps."""
    warmup = max(1, int(spec.warmup_frac * total))
    # torch's fused AdamW: one kernel for every parameter's update instead of a loop of small ops
    optimizer = torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay, betas=(0.9, 0.95),
                                  fused=device.type in ("cpu", "cuda"))
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, total, warmup))


def optimizer_step(model: PreTrainedModel, params: list[torch.nn.Parameter], optimizer, scheduler, batch: list,
                   distill: list[bool], pad_id: int, spec: TrainSpec, kl_weight: float) -> tuple[float, int]:
    """One update on `batch` (micro-batched as `spec` says, gradients clipped to norm 1):
    (the batch's loss, its tokens)."""
    loss, n_tokens = accumulate_gradients(model, batch, pad_id, next(model.parameters()).device, spec, distill,
                                          kl_weight)
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item(), n_tokens


def held_out_check(monitor: Callable, model: PreTrainedModel, tokenizer, epoch: int, epoch_loss: float,
                   checks: list[dict], advance: Callable) -> bool:
    """Run the monitor in eval mode, record its metrics, say them; True when training should stop."""
    model.eval()
    stop, metrics = monitor(model, tokenizer)
    model.train()
    checks.append({"epoch": epoch, "loss": round(epoch_loss, 4), **metrics})
    # forced: a check is a result, not a heartbeat the rate limit may drop
    advance(0, info=f"epoch {epoch} check: " + ", ".join(f"{k} {v:.2f}" for k, v in metrics.items()), force=True)
    if stop:
        advance(0, info=f"stopped after epoch {epoch}: {metrics}")
    return stop


def train_causal_lm(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    spec: TrainSpec,
    seed: int,
    description: str,
    loss_on_prompt: bool = False,
    monitor: Callable | None = None,
    fresh: Callable[[int], Sequence[Example]] | None = None,
    kl_weight: float = 0.0,
) -> dict:
    """Train the model's trainable parameters in place; returns training statistics.
    `fresh(epoch)` (0-based) gives examples added to that epoch only, the same number each
    epoch: material that must never repeat. Prompts carry loss as `loss_on_prompt` says,
    unless an example says otherwise (`Example.loss_on_prompt`).
    `monitor(model, tokenizer) -> (stop, metrics)` runs when `monitor.due(epoch, epochs)`;
    its metrics are kept in the statistics and training ends when it says stop.
    `kl_weight` > 0 (a PEFT model): the examples marked `distill` also carry that weight x
    the KL from the adapter-off model (`kl_to_adapter_off`)."""
    epochs = encoded_epochs(tokenizer, examples, spec.epochs, loss_on_prompt, fresh)
    check_lengths([rows for rows, _ in epochs], model, description)
    steps_per_epoch = check_steps([len(rows) for rows, _ in epochs], spec.batch_size, description)
    total = spec.epochs * steps_per_epoch
    params = [p for p in model.parameters() if p.requires_grad]
    device = next(model.parameters()).device
    optimizer, scheduler = optimizer_and_schedule(params, spec, total, device)
    torch.manual_seed(seed)  # dropout
    shuffler = torch.Generator().manual_seed(seed)
    model.train()
    start, losses, tokens, checks, epochs_run = time.perf_counter(), [], 0, [], 0
    with progress_bar(description, total) as advance:
        for epoch in range(spec.epochs):
            epochs_run += 1
            rows, distill = epochs[epoch if fresh else 0]
            for indices in length_bucketed_batches([len(r[0]) for r in rows], spec.batch_size, shuffler):
                loss, n_tokens = optimizer_step(model, params, optimizer, scheduler, [rows[j] for j in indices],
                                                [distill[j] for j in indices], tokenizer.pad_token_id, spec, kl_weight)
                losses.append(loss)
                if not math.isfinite(losses[-1]):
                    raise TrainingDiverged(f"{description}: the loss became {losses[-1]} at step {len(losses)} "
                                           f"(lr {spec.lr}); nothing was saved. Lower the learning rate")
                tokens += n_tokens
                advance(info=f"loss {losses[-1]:.3f}")
            epoch_loss = sum(losses[-steps_per_epoch:]) / steps_per_epoch
            if spec.stop_loss is not None and epoch_loss < spec.stop_loss:
                advance(0, info=f"stopped after epoch {epochs_run}: loss {epoch_loss:.4f} < {spec.stop_loss}")
                break
            if monitor is not None and monitor.due(epochs_run, spec.epochs) and \
                    held_out_check(monitor, model, tokenizer, epochs_run, epoch_loss, checks, advance):
                break
    model.eval()
    if not all(bool(torch.isfinite(p).all()) for p in params):
        raise TrainingDiverged(f"{description}: weights became non-finite (lr {spec.lr}); nothing was saved")
    tail = losses[-steps_per_epoch:]
    return {"epochs": epochs_run, "steps": len(losses), "final_loss": sum(tail) / len(tail),
            "seconds": round(time.perf_counter() - start, 2), "tokens": tokens, "examples": len(rows),
            **({"checks": checks} if monitor is not None else {})}
