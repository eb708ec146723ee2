"""The training run: PEFT LoRA over the base, a plain torch loop with a weighted loss.

Why not TRL's SFTTrainer: its assistant-only loss needs a chat template with generation marks
(SmolLM2's has none), its prompt-completion mode gives no per-token weights, and its
versions move under transformers'; this loop is the few lines those would configure, and it
runs the same on a CPU and on a GPU machine that has only torch, transformers and peft.
Writes to ``out``: ``log.jsonl`` (one line per step and per eval), ``adapter/`` (PEFT),
``adapter.gguf`` (llama.cpp) and ``summary.json``; a run paused by ``pause_minutes`` writes
``checkpoint.pt`` instead, which ``resume`` reads.
"""

from __future__ import annotations

import json
import logging
import math
import platform
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from agent_arena.training.config import TrainConfig
from agent_arena.training.data import Row, load_rows, split
from agent_arena.training.encode import IGNORE, Encoded, encode_many

log = logging.getLogger("agent_arena.training")


def _batches(items: Sequence[Encoded], batch: int, rng: random.Random):
    """Endless shuffled batches; each batch is drawn from a window of similar lengths so
    padding stays small."""
    while True:
        order = list(range(len(items)))
        rng.shuffle(order)
        window = batch * 16
        for w in range(0, len(order), window):
            chunk = sorted(order[w:w + window], key=lambda i: len(items[i].input_ids))
            groups = [chunk[i:i + batch] for i in range(0, len(chunk), batch)]
            rng.shuffle(groups)
            yield from ([items[i] for i in g] for g in groups if len(g) == batch)


def _collate(items: Sequence[Encoded], pad_id: int, device: Any) -> dict[str, Any]:
    import torch

    n = max(len(e.input_ids) for e in items)
    ids = torch.full((len(items), n), pad_id, dtype=torch.long)
    labels = torch.full((len(items), n), IGNORE, dtype=torch.long)
    weights = torch.zeros((len(items), n), dtype=torch.float32)
    mask = torch.zeros((len(items), n), dtype=torch.long)
    for k, e in enumerate(items):
        m = len(e.input_ids)
        ids[k, :m] = torch.tensor(e.input_ids)
        labels[k, :m] = torch.tensor(e.labels)
        weights[k, :m] = torch.tensor(e.weights)
        mask[k, :m] = 1
    return {"input_ids": ids.to(device), "labels": labels.to(device),
            "weights": weights.to(device), "attention_mask": mask.to(device)}


def answer_logits(model: Any, b: dict[str, Any]) -> tuple[Any, Any, Any, Any]:
    """Logits only where a token is learned (the answer: ~5% of a decision's tokens), so the
    vocabulary projection, its softmax and their memory are paid ~20x less than by
    ``model(...).logits``. Returns (logits, labels, weights, (row, position) of each)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = inner.model(input_ids=b["input_ids"], attention_mask=b["attention_mask"])[0]
    labels, weights = b["labels"][:, 1:], b["weights"][:, 1:]
    where = labels != IGNORE
    logits = inner.lm_head(hidden[:, :-1][where])
    return logits, labels[where], weights[where], where.nonzero()


def weighted_loss(logits: Any, labels: Any, weights: Any) -> Any:
    """Cross-entropy of each learned token, weighted, averaged over the weights."""
    import torch.nn.functional as F

    ce = F.cross_entropy(logits.float(), labels, reduction="none")
    return (ce * weights).sum() / weights.sum().clamp_min(1e-6)


def evaluate(model: Any, items: Sequence[Encoded], pad_id: int, device: Any,
             batch: int, autocast: Callable[[], Any]) -> dict[str, float]:
    """Loss on the answers, and how often every token of the tool's name is the model's
    first choice (teacher-forced): the decision, read without sampling."""
    import torch

    model.eval()
    losses, right, total = [], 0, 0
    with torch.no_grad():
        for i in range(0, len(items), batch):
            chunk = items[i:i + batch]
            b = _collate(chunk, pad_id, device)
            with autocast():
                logits, labels, _, at = answer_logits(model, b)
            losses.append(float(weighted_loss(logits, labels, torch.ones_like(labels,
                                                                            dtype=torch.float))))
            pred = {(int(r), int(p) + 1): int(t) for (r, p), t in zip(at.tolist(),
                                                                   logits.argmax(-1).tolist(),
                                                                   strict=True)}
            for k, e in enumerate(chunk):
                if e.tool_positions:
                    total += 1
                    right += all(pred.get((k, p)) == e.input_ids[p] for p in e.tool_positions)
    model.train()
    return {"eval_loss": sum(losses) / max(1, len(losses)),
            "tool_acc": right / max(1, total), "eval_rows": float(len(items))}


def _save_checkpoint(path: Path, model: Any, opt: Any, step: int, trained_s: float,
                     first: dict[str, float]) -> None:
    """The adapter's weights and the optimiser's state: what an unbroken run would carry on
    with (the data and its order are rebuilt from the seed)."""
    import torch
    from peft import get_peft_model_state_dict

    torch.save({"adapter": get_peft_model_state_dict(model), "opt": opt.state_dict(),
                "step": step, "trained_s": trained_s, "first": first},
               str(path) + ".tmp")
    Path(str(path) + ".tmp").replace(path)


def _load_checkpoint(path: Path, model: Any, opt: Any) -> tuple[int, float, dict]:
    import torch
    from peft import set_peft_model_state_dict

    state = torch.load(str(path), map_location="cpu", weights_only=False)
    set_peft_model_state_dict(model, state["adapter"])
    opt.load_state_dict(state["opt"])
    return int(state["step"]), float(state["trained_s"]), state["first"]


def init_from_adapter(model: Any, cfg: TrainConfig) -> Path:
    """Load ``cfg.init_adapter`` (a GGUF LoRA) into the fresh PEFT ``model``: a run that goes
    on from the packaged adapter, e.g. on a game's own journals, instead of from zero."""
    import torch
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    from agent_arena.adapters import resolve_lora
    from agent_arena.errors import ConfigError
    from agent_arena.training.gguf_lora import read_gguf_lora

    try:
        path = resolve_lora(cfg.init_adapter)
    except ConfigError as exc:
        raise ConfigError(f"--init-adapter: {exc.message}") from exc
    if path is None:
        raise ConfigError(f"--init-adapter={cfg.init_adapter!r} names no adapter; leave it out")
    mc = model.config
    tensors, alpha, rank = read_gguf_lora(path, n_head=mc.num_attention_heads,
                                          n_head_kv=mc.num_key_value_heads)
    if (rank, alpha) != (cfg.rank, cfg.alpha):
        raise ConfigError(f"--init-adapter {path.name} has rank {rank} and alpha {alpha:g}; "
                          f"pass --rank {rank} --alpha {alpha:g}")
    wanted = set(get_peft_model_state_dict(model))
    if set(tensors) != wanted:
        extra, missing = sorted(set(tensors) - wanted), sorted(wanted - set(tensors))
        raise ConfigError(f"--init-adapter {path.name} adapts other layers than --targets "
                          f"{cfg.targets}: {len(extra)} extra ({extra[:2]}), {len(missing)} "
                          f"missing ({missing[:2]})")
    set_peft_model_state_dict(model, {k: torch.from_numpy(v) for k, v in tensors.items()})
    return path


def train(cfg: TrainConfig, *, say: Callable[[str], None] = print) -> dict[str, Any]:
    import torch
    from peft import LoraConfig, get_peft_model, get_peft_model_state_dict

    from agent_arena.training.base import base_gguf, load_base
    from agent_arena.training.gguf_lora import write_gguf_lora

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = torch.device("cuda" if cfg.device == "cuda" or (
        cfg.device == "auto" and torch.cuda.is_available()) else "cpu")
    on_gpu = device.type == "cuda"

    def autocast() -> Any:
        return torch.autocast("cuda", dtype=torch.bfloat16) if on_gpu else \
            torch.autocast("cpu", enabled=False)

    t0 = time.time()
    rows: list[Row] = load_rows(cfg.data) if cfg.data else []
    train_rows, eval_rows = split(rows, cfg.held_out, cfg.seed)
    if cfg.generate:
        from agent_arena.training.games import generated_rows, held_out_rows

        train_rows += generated_rows(cfg.generate, cfg.seed)
        eval_rows += held_out_rows(cfg.eval_rows, cfg.seed)
    if cfg.scenarios:  # hand-written design games: all trained on, none held out
        from agent_arena.training.scenario_rows import training_rows

        train_rows += training_rows(cfg.scenarios.split(","), copies=cfg.scenario_copies,
                                    seed=cfg.seed, rename=cfg.scenario_rename)
    rows = train_rows + eval_rows
    say(f"train: {len(train_rows)} + {len(eval_rows)} held-out rows ready "
        f"({time.time() - t0:.0f} s)")
    gguf_path = base_gguf(cfg.base)
    model, tok = load_base(gguf_path)
    train_items = encode_many(tok, train_rows, tool_weight=cfg.tool_weight, max_len=cfg.max_len)
    eval_items = encode_many(tok, eval_rows, tool_weight=cfg.tool_weight, max_len=cfg.max_len)
    tools: dict[str, int] = {}
    for r in train_rows:
        tools[r.tool] = tools.get(r.tool, 0) + 1
    mean = sum(len(e.input_ids) for e in train_items) / max(1, len(train_items))
    say(f"train: {len(train_items)} rows ({len(train_rows) - len(train_items)} too long), "
        f"{len(eval_items)} held out; mean {mean:.0f} "
        f"tokens; {len(tools)} tool names; base {gguf_path.name}; device {device}")
    targets: Any = cfg.targets if cfg.targets == "all-linear" else cfg.targets.split(",")
    model = get_peft_model(model, LoraConfig(r=cfg.rank, lora_alpha=cfg.alpha,
                                             lora_dropout=cfg.dropout, target_modules=targets,
                                             task_type="CAUSAL_LM"))
    if cfg.init_adapter:
        say(f"train: starting from the adapter {init_from_adapter(model, cfg)}")
    model.to(device)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)

    def lr_at(step: int) -> float:
        """Warm-up, then a cosine to a tenth, over the steps or the time limit, whichever
        comes first (a run cut by its time limit still ends on a low rate)."""
        if step < cfg.warmup:
            return cfg.lr * (step + 1) / cfg.warmup
        frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
        if cfg.max_minutes:
            frac = max(frac, (time.time() - t_train) / (cfg.max_minutes * 60))
        return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    logf = (out / "log.jsonl").open("a" if cfg.resume else "w")

    def record(entry: dict[str, Any]) -> None:
        logf.write(json.dumps(entry) + "\n")
        logf.flush()

    pad = int(tok.pad_token_id)
    batches = _batches(train_items, cfg.batch, random.Random(cfg.seed))
    ckpt = out / "checkpoint.pt"
    step, before_s, first = 0, 0.0, {}
    if cfg.resume:
        step, before_s, first = _load_checkpoint(ckpt, model, opt)
        for _ in range(step):  # the same batches, in the same order, as an unbroken run
            next(batches)
        say(f"train: resumed from {ckpt} at step {step} ({before_s:.0f} s trained before)")
    t_call = time.time()
    t_train = t_call - before_s
    if not first and eval_items:
        first = evaluate(model, eval_items, pad, device, cfg.batch, autocast)
        record({"step": 0, **first})
        say(f"step 0: {first}")
    while step < cfg.steps:
        if cfg.max_minutes and time.time() - t_train > cfg.max_minutes * 60:
            say(f"train: time limit {cfg.max_minutes} min reached at step {step}")
            break
        if cfg.pause_minutes and time.time() - t_call > cfg.pause_minutes * 60:
            _save_checkpoint(ckpt, model, opt, step, time.time() - t_train, first)
            logf.close()
            say(f"train: paused at step {step}; wrote {ckpt}; run the same command with "
                "--resume to go on")
            return {"paused": True, "steps": step, "checkpoint": str(ckpt)}
        b = _collate(next(batches), pad, device)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with autocast():
            logits, labels, weights, _ = answer_logits(model, b)
        loss = weighted_loss(logits, labels, weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        entry = {"step": step, "loss": round(float(loss.detach()), 5), "lr": opt.param_groups[0]["lr"],
                 "s": round(time.time() - t_train, 1)}
        record(entry)
        if step % 10 == 0 or step == 1:
            say(f"step {step}: loss {entry['loss']:.4f} ({entry['s']} s)")
        if eval_items and cfg.eval_every and step % cfg.eval_every == 0:
            ev = evaluate(model, eval_items, pad, device, cfg.batch, autocast)
            record({"step": step, **ev})
            say(f"step {step}: {ev}")
    train_s = time.time() - t_train
    final = evaluate(model, eval_items, pad, device, cfg.batch, autocast) if eval_items else {}
    if final:
        record({"step": step, **final})
    logf.close()
    model.save_pretrained(str(out / "adapter"))
    state = {k: v.detach().float().cpu().numpy()
             for k, v in get_peft_model_state_dict(model).items()}
    mc = model.config
    gguf_out = write_gguf_lora(state, out / "adapter.gguf", alpha=cfg.alpha,
                               n_head=mc.num_attention_heads, n_head_kv=mc.num_key_value_heads)
    summary = {
        "config": asdict(cfg), "base": gguf_path.name, "rows": len(rows),
        "train_rows": len(train_items), "eval_rows": len(eval_items), "tools": len(tools),
        "steps": step, "examples_seen": step * cfg.batch, "train_s": round(train_s, 1),
        "total_s": round(time.time() - t0, 1), "device": str(device),
        "device_name": torch.cuda.get_device_name(0) if on_gpu else platform.processor(),
        "torch": torch.__version__, "first_eval": first, "final_eval": final,
        "adapter_gguf": str(gguf_out), "adapter_bytes": gguf_out.stat().st_size,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    say(f"train: {step} steps in {train_s:.0f} s; final {final}; wrote {gguf_out}")
    return summary
