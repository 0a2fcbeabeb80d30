# Trains the stages of examples/egru-lm (dense EGRU, pruning, GRU baseline) with JAX on the CPU.
#
# Why JAX: the EGRU's time loop is a chain of small matrix products; TensorFlow.js's wasm backend runs it on
# one thread at ~1.5 s per step at 2 × 128 units and ~21 s at 2 × 512, so the widths EvNN's language models
# use were out of reach. XLA compiles the whole step (forward, backward through time, Adam) into one
# program: ~0.35 s at 128 units and ~0.7 s at 512 units on the 2-core development machine.
#
# This script is driven by train.ts (`npm run train:egru-lm`), which writes everything it needs into one
# folder (`--work DIR`):
#   config.json    the hyper-parameters, and per stage the learning rate of every step (nmc tune's cosine,
#                  compiler/tune/schedule.ts) and, for pruning, the target sparsity of every mask step (nmc
#                  tune's cubic schedule): the schedules are computed once, in TypeScript, and followed here;
#   train.u8 validation.u8 test.u8   the encoded character streams (data.ts), one byte per character.
# It writes back `<stage>.npz` (the weights, named as the TensorFlow.js layers name them) and `<stage>.json`
# (the per-step history and its own test / validation figures). train.ts then loads the weights into nmc's
# EGRU layer (TensorFlow.js) and measures everything again there, so the figures in results.json come from
# nmc's own EGRU definition, with this script's as a cross-check.
#
# The model math is nmc's EGRU (docs/model-math.md, runtime/tfjs/egru.ts): gates z, r, g from x·W + b and
# y_{t-1}·U + b_u (g's recurrent part times r), c = z·h + (1 − z)·g, o = H(c − θ) with θ clipped to [0, 1],
# y = o·c, h = c − o·θ; EvNN's surrogate gradient dampening · max(0, 1 − support·|c − θ|). The baseline is the
# same cell with θ = 0 and o ≡ 1 (y = h = c): a GRU in EvNN's form, no events.
import argparse
import json
import os
import time

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def heaviside(damp, support):
    @jax.custom_vjp
    def h(x):
        return (x > 0).astype(x.dtype)

    def fwd(x):
        return h(x), x

    def bwd(x, g):
        return (g * damp * jnp.maximum(0.0, 1.0 - support * jnp.abs(x)),)

    h.defvjp(fwd, bwd)
    return h


def init_params(hp, V, key, events):
    """Initial weights as nmc's EGRU layer draws them (Glorot normal kernels, zero biases, Beta thresholds)."""
    H, E, n = hp["units"], hp["embed"], hp["layers"]
    keys = jax.random.split(key, 4 * n + 4)
    glorot_n = jax.nn.initializers.glorot_normal()
    glorot_u = jax.nn.initializers.glorot_uniform()
    p = {"embedding/embeddings": hp["embedStd"] * jax.random.normal(keys[0], (V, E))}
    C = E
    for i in range(n):
        k = keys[1 + 4 * i: 5 + 4 * i]
        name = f"egru{i + 1}"
        p[f"{name}/kernel"] = glorot_n(k[0], (C, 3 * H))
        p[f"{name}/recurrent_kernel"] = glorot_n(k[1], (H, 3 * H))
        p[f"{name}/bias"] = jnp.zeros(3 * H)
        p[f"{name}/recurrent_bias"] = jnp.zeros(3 * H)
        if events:
            # Beta(α, β = 3) with mean m (EvNN's threshold initialization)
            m = hp["thrMean"]
            p[f"{name}/thr"] = jax.random.beta(k[2], 3.0 * m / (1.0 - m), 3.0, (H,))
        C = H
    p["decoder/kernel"] = glorot_u(keys[-1], (H, V))
    p["decoder/bias"] = jnp.zeros(V)
    return p


def forward(p, x, hp, events, h_fn):
    """Logits [L, B, V] and the output gates of every EGRU layer ([L, B, H] each) for token ids x [B, L]."""
    H, n = hp["units"], hp["layers"]
    h = p["embedding/embeddings"][x.T]  # [L, B, E]
    gates = []
    for i in range(n):
        name = f"egru{i + 1}"
        vx = h @ p[f"{name}/kernel"] + p[f"{name}/bias"]
        U, bu = p[f"{name}/recurrent_kernel"], p[f"{name}/recurrent_bias"]
        thr = jnp.clip(p[f"{name}/thr"], 0.0, 1.0) if events else None

        def step(carry, v, U=U, bu=bu, thr=thr):
            hs, y = carry
            vh = y @ U + bu
            z = jax.nn.sigmoid(v[:, :H] + vh[:, :H])
            r = jax.nn.sigmoid(v[:, H:2 * H] + vh[:, H:2 * H])
            g = jnp.tanh(v[:, 2 * H:] + r * vh[:, 2 * H:])
            c = z * hs + (1.0 - z) * g
            if events:
                o = h_fn(c - thr)
                return (c - o * thr, o * c), (o * c, o)
            return (c, c), (c, jnp.ones_like(c))

        B = x.shape[0]
        _, (h, o) = jax.lax.scan(step, (jnp.zeros((B, H)), jnp.zeros((B, H))), vx)
        gates.append(o)
    return h @ p["decoder/kernel"] + p["decoder/bias"], gates


def make_loss(hp, events, act_reg, h_fn):
    def loss(p, x, y):
        logits, gates = forward(p, x, hp, events, h_fn)
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, y.T).mean()
        act = sum(g.mean() for g in gates) / len(gates)
        return ce + (act_reg * act if events else 0.0), (ce, act)
    return loss


def windows(stream, L, count):
    n = min(count, (len(stream) - 1) // L)
    x = stream[: n * L].reshape(n, L)
    y = stream[1: n * L + 1].reshape(n, L)
    return x, y


_eval_forward = {}


def evaluate(p, hp, events, h_fn, stream, count, chunk=100):
    """Bits per character and per-layer activity sparsity over the first `count` non-overlapping windows."""
    x, y = windows(stream, hp["seqLen"], count)
    fwd = _eval_forward.get(events)
    if fwd is None:  # compiled once per run, not at every validation check
        fwd = _eval_forward[events] = jax.jit(lambda p, x: forward(p, x, hp, events, h_fn))
    ce, act = 0.0, np.zeros(hp["layers"])
    for s in range(0, len(x), chunk):
        logits, gates = fwd(p, jnp.asarray(x[s: s + chunk]))
        lp = jax.nn.log_softmax(logits)
        yy = jnp.asarray(y[s: s + chunk]).T
        ce -= float(jnp.take_along_axis(lp, yy[..., None], axis=-1).sum())
        act += np.array([float(g.sum()) for g in gates])
    n = x.size
    per = {f"egru{i + 1}": 1.0 - act[i] / (n * hp["units"]) for i in range(hp["layers"])} if events else {}
    return {"windows": int(len(x)), "characters": int(n), "bpc": ce / n / np.log(2),
            "activity_sparsity": (1.0 - act.sum() / (n * hp["units"] * hp["layers"])) if events else None,
            "activity_sparsity_per_layer": per}


def prunable(p):
    return [k for k in p if k.endswith(("/embeddings", "/kernel", "/recurrent_kernel"))]


def global_masks(p, names, s):
    """nmc tune's global magnitude masks (compiler/tune/schedule.ts magnitudeMasks): the ceil(s·N) smallest
    magnitudes over all the named weights are pruned, ties broken by weight order, then index."""
    mags = np.concatenate([np.abs(np.asarray(p[k])).ravel() for k in names])
    drop = min(mags.size, int(np.ceil(s * mags.size - 1e-9)))
    keep = np.ones(mags.size, dtype=np.float32)
    if drop > 0:
        order = np.argsort(mags, kind="stable")  # stable: equal magnitudes stay in (weight, index) order
        keep[order[:drop]] = 0.0
    out, at = {}, 0
    for k in names:
        size = int(np.prod(p[k].shape))
        out[k] = jnp.asarray(keep[at: at + size].reshape(p[k].shape))
        at += size
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--work", required=True, help="the folder train.ts prepared (config.json, *.u8)")
    ap.add_argument("--stage", required=True, choices=["dense", "prune", "baseline"])
    args = ap.parse_args()
    cfg = json.load(open(os.path.join(args.work, "config.json")))
    hp, stage = cfg["hp"], cfg["stages"][args.stage]
    streams = {k: np.fromfile(os.path.join(args.work, f"{k}.u8"), dtype=np.uint8).astype(np.int32) for k in ("train", "validation", "test")}
    V = cfg["vocabularySize"]
    events = args.stage != "baseline"
    h_fn = heaviside(hp["dampening"], hp["support"])
    if args.stage == "prune":
        d = np.load(os.path.join(args.work, "dense.npz"))
        p = {k: jnp.asarray(d[k]) for k in d.files}
    else:
        p = init_params(hp, V, jax.random.PRNGKey(stage["seed"]), events)
    log(f"{args.stage}: {sum(int(np.prod(v.shape)) for v in p.values())} parameters, {len(stage['lr'])} steps, jax {jax.__version__}")
    frozen = {k for k in p if hp["freezeThr"] and k.endswith("/thr")}
    act_reg = hp["actReg"] if events else 0.0
    loss = make_loss(hp, events, act_reg, h_fn)
    tx = optax.inject_hyperparams(optax.adam)(learning_rate=stage["lr"][0], eps=1e-7)
    if hp["clip"] > 0:
        tx = optax.chain(optax.clip_by_global_norm(hp["clip"]), tx)
    opt = tx.init(p)
    names = prunable(p)
    masks = None

    @jax.jit
    def train_step(p, opt, x, y, lr, masks):
        (_, (ce, act)), g = jax.value_and_grad(loss, has_aux=True)(p, x, y)
        g = {k: (jnp.zeros_like(v) if k in frozen else v) for k, v in g.items()}
        inner = opt[-1] if hp["clip"] > 0 else opt
        inner.hyperparams["learning_rate"] = lr
        u, opt = tx.update(g, opt, p)
        p = optax.apply_updates(p, u)
        if masks is not None:
            p = {k: (v * masks[k] if k in masks else v) for k, v in p.items()}
        return p, opt, ce, act

    rng = np.random.default_rng(stage["seed"])
    B, L = hp["batch"], hp["seqLen"]
    train = streams["train"]
    history, ce_sum, act_sum, n, t0 = [], 0.0, 0.0, 0, time.time()
    steps = len(stage["lr"])
    report = max(1, steps // 40)
    mask_plan = {int(k): v for k, v in stage.get("maskSparsity", {}).items()}
    last_mask = max(mask_plan, default=-1)
    # Checkpoint selection on the validation split (EvNN's LM keeps the model of the best validation loss): every
    # selectEvery steps (and at the end) once the final masks are set, the validation bits per character of the
    # first selectWindows windows; the best checkpoint is what this stage writes. selectEvery 0: the last step's.
    select_every, best = int(hp.get("selectEvery", 0)), None
    for step in range(steps):
        if step in mask_plan:
            masks = global_masks(p, names, mask_plan[step])
            p = {k: (v * masks[k] if k in masks else v) for k, v in p.items()}
        off = rng.integers(0, len(train) - L - 1, B)
        idx = off[:, None] + np.arange(L)[None, :]
        p, opt, ce, act = train_step(p, opt, jnp.asarray(train[idx]), jnp.asarray(train[idx + 1]), jnp.float32(stage["lr"][step]), masks)
        ce_sum += float(ce)
        act_sum += float(act)
        n += 1
        if (step + 1) % report == 0 or step == steps - 1:
            row = {"step": step + 1, "learning_rate": stage["lr"][step], "train_bpc": ce_sum / n / np.log(2),
                   "train_activity_sparsity": 1.0 - act_sum / n if events else None, "seconds": time.time() - t0}
            if mask_plan:
                row["sparsity"] = max([s for k, s in mask_plan.items() if k <= step], default=0.0)
            history.append(row)
            extra = ""
            if hp["validate"]:
                extra = f"  val bpc {evaluate(p, hp, events, h_fn, streams['validation'], 100)['bpc']:.3f}"
            act_txt = f"  activity sparsity {100 * row['train_activity_sparsity']:.1f}%" if events else ""
            log(f"{args.stage} step {step + 1}/{steps}  train bpc {row['train_bpc']:.3f}{act_txt}{extra}  ({row['seconds']:.0f} s)")
            ce_sum = act_sum = 0.0
            n, t0 = 0, time.time()
        if select_every and step >= last_mask and ((step + 1) % select_every == 0 or step == steps - 1):
            v = evaluate(p, hp, events, h_fn, streams["validation"], hp["selectWindows"])["bpc"]
            history.append({"step": step + 1, "selection_validation_bpc": v})
            if best is None or v < best[0]:
                best = (v, step + 1, p)
            log(f"{args.stage} step {step + 1}: validation bpc {v:.4f} on {hp['selectWindows']} windows (best {best[0]:.4f} at step {best[1]})")
    selected = None
    if best is not None:
        p, selected = best[2], {"step": best[1], "validation_bpc": best[0], "windows": hp["selectWindows"]}
    out = {k: np.asarray(v, dtype=np.float32) for k, v in p.items()}
    np.savez(os.path.join(args.work, f"{args.stage}.npz"), **out)
    test = evaluate(p, hp, events, h_fn, streams["test"], hp["evalWindows"])
    validation = evaluate(p, hp, events, h_fn, streams["validation"], hp["evalWindows"])
    zeros = None
    if masks is not None:
        zeros = float(sum((out[k] == 0).sum() for k in names) / sum(out[k].size for k in names))
    log(f"{args.stage}: test bpc {test['bpc']:.4f}" + (f", activity sparsity {100 * test['activity_sparsity']:.1f}%" if events else "")
        + (f", weight zeros {100 * zeros:.2f}%" if zeros is not None else ""))
    json.dump({"history": history, "selected": selected, "test": test, "validation": validation, "weight_sparsity": zeros,
               "jax": jax.__version__, "parameters": int(sum(v.size for v in out.values()))},
              open(os.path.join(args.work, f"{args.stage}.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
