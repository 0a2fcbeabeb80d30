"""Write a trained EGRU (+ Dense head) as the TensorFlow.js LayersModel files nmc compiles.

Only numpy is needed: take the arrays from your PyTorch / JAX / EvNN checkpoint, arrange them as below, and
call write_model_json. The layout of every layer nmc supports is in the README ("The model format").

    python3 examples/export/write_model_json.py /tmp/exported     # writes a random demo model
    npx nmc compile /tmp/exported/model.json --target spinnaker2 -o m.nmb

EGRU arrays (gate blocks ordered z, r, g along the last axis):
    kernel [C, 3H], recurrent_kernel [H, 3H], bias [3H], recurrent_bias [3H], thr [H]
From a PyTorch GRU-style module with weight_ih [3H, C] (gates r, z, n in PyTorch's order!) transpose and
reorder the gate blocks: z = PyTorch's z block, r = its r block, g = its n block.
"""
import json
import os
import sys

import numpy as np


def write_model_json(out_dir, input_size, egru, head, readout="mean", name="exported", zoneout=0.0):
    """egru: dict of float32 arrays (kernel, recurrent_kernel, bias, recurrent_bias, thr); head: (kernel [H, K], bias [K]).

    zoneout: the EvNN EGRU's `zoneout` (module.zoneout), which its compiled kernel applies at inference too; nmc
    computes the same (docs/model-math.md, "EGRU zoneout"). Written only when not 0.
    """
    os.makedirs(out_dir, exist_ok=True)
    H = egru["thr"].shape[0]
    K = head[1].shape[0]
    weights = [
        ("egru/kernel", egru["kernel"]), ("egru/recurrent_kernel", egru["recurrent_kernel"]),
        ("egru/bias", egru["bias"]), ("egru/recurrent_bias", egru["recurrent_bias"]), ("egru/thr", egru["thr"]),
        ("head/kernel", head[0]), ("head/bias", head[1]),
    ]
    with open(os.path.join(out_dir, "weights.bin"), "wb") as f:
        for _, a in weights:
            f.write(np.ascontiguousarray(a, dtype="<f4").tobytes())
    model = {
        "format": "layers-model",
        "modelTopology": {"class_name": "Sequential", "config": {"name": name, "layers": [
            {"class_name": "EGRU", "config": {"name": "egru", "units": H, "batch_input_shape": [None, None, input_size],
                                               **({"zoneout": float(zoneout)} if zoneout else {})}},
            {"class_name": "Dense", "config": {"name": "head", "units": K, "activation": "linear", "use_bias": True}},
        ]}},
        "weightsManifest": [{"paths": ["weights.bin"], "weights": [
            {"name": n, "shape": list(a.shape), "dtype": "float32"} for n, a in weights]}],
        "userDefinedMetadata": {"nmc": {"readout": readout}},
    }
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump(model, f, indent=1)


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "exported"
    rng = np.random.default_rng(0)
    C, H, K = 28, 64, 10
    egru = {
        "kernel": rng.normal(0, 0.3, (C, 3 * H)), "recurrent_kernel": rng.normal(0, 0.2, (H, 3 * H)),
        "bias": np.zeros(3 * H), "recurrent_bias": np.zeros(3 * H), "thr": np.full(H, 0.3),
    }
    head = (rng.normal(0, 0.3, (H, K)), np.zeros(K))
    write_model_json(out, C, egru, head)
    x = rng.random((8, 20, C)).astype("<f4")  # calibration / test inputs [B, T, C]
    os.makedirs(os.path.join(out, "inputs"), exist_ok=True)
    np.save(os.path.join(out, "inputs", "calib.npy"), x)
    print(f"wrote {out}/model.json, {out}/weights.bin and {out}/inputs/calib.npy")
