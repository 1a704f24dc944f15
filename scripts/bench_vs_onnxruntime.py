"""The learned detector's network in stagewatch against onnxruntime on the same weights
and the same windows (called by scripts/bench-vs-onnxruntime, which prepares both).

usage: bench_vs_onnxruntime.py EXAMPLE_BIN MODEL WORKDIR IMAGE N SIDE REPS

EXAMPLE_BIN is the built examples/forward_bench. The weights are exported from the
model file to JSON by it and turned into an ONNX graph here (Conv with the same pads,
strides and dilations, Relu, nearest Resize, Concat); the windows are prepared by it as
`detect` prepares a site. Both run one forward pass (one view) per window, batch 1, at
1 and 2 threads, alternated, median of REPS; the outputs are checked to agree before
any time is printed. Nothing is asserted about speed.
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def build_onnx(spec, side):
    """The ONNX graph of stagewatch's layer list (NCHW), for SIDE x SIDE inputs."""
    layers, w = spec["layers"], np.asarray(spec["weights"], dtype=np.float32)
    inits, nodes, names, sizes = [], [], [], []
    cur, hw, off = "x", side, 0
    for i, l in enumerate(layers):
        op = l.get("op", "conv")
        out = f"l{i}"
        if op == "conv":
            k, cin, cout = l["k"], l["cin"], l["cout"]
            n = k * k * cin * cout
            kern = w[off:off + n].reshape(k, k, cin, cout).transpose(3, 2, 0, 1)
            bias = w[off + n:off + n + cout]
            off += n + cout
            inits += [numpy_helper.from_array(np.ascontiguousarray(kern), f"w{i}"),
                      numpy_helper.from_array(bias.copy(), f"b{i}")]
            p = (k // 2) * l["dilation"]
            conv_out = out if not l["relu"] else f"c{i}"
            nodes.append(helper.make_node(
                "Conv", [cur, f"w{i}", f"b{i}"], [conv_out], kernel_shape=[k, k],
                strides=[l["stride"]] * 2, dilations=[l["dilation"]] * 2, pads=[p] * 4))
            if l["relu"]:
                nodes.append(helper.make_node("Relu", [conv_out], [out]))
            hw = -(-hw // l["stride"])
        elif op == "up2":
            target = sizes[l["from"]]
            if target != 2 * hw:
                sys.exit(f"window side {side}: layer {i} upsamples {hw} to {target}; use a multiple of 16")
            inits.append(numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), f"s{i}"))
            nodes.append(helper.make_node("Resize", [cur, "", f"s{i}"], [out], mode="nearest",
                                          coordinate_transformation_mode="asymmetric",
                                          nearest_mode="floor"))
            hw = target
        elif op == "concat":
            nodes.append(helper.make_node("Concat", [cur, names[l["from"]]], [out], axis=1))
        else:
            sys.exit(f"unknown layer op {op}")
        names.append(out)
        sizes.append(hw)
        cur = out
    if off != len(w):
        sys.exit(f"weights: used {off} of {len(w)}")
    cin, cout = layers[0]["cin"], layers[-1]["cout"]
    graph = helper.make_graph(
        nodes, "stagewatch-detector",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, side, side])],
        [helper.make_tensor_value_info(cur, TensorProto.FLOAT, [1, cout, hw, hw])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)
    return model, hw, cout


def ours(example, model, wins, n, side, reps, out, threads):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    r = subprocess.run([example, "run", model, wins, str(n), str(side), str(reps), out],
                       env=env, check=True, capture_output=True, text=True)
    return json.loads(r.stdout.strip().splitlines()[-1])["median_s_per_window"]


def theirs(onnx_bytes, xs, reps, threads):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(onnx_bytes, so, providers=["CPUExecutionProvider"])
    sess.run(None, {"x": xs[0]})  # warm-up: kernels chosen, buffers allocated
    times, outs = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        o = [sess.run(None, {"x": x})[0] for x in xs]
        times.append((time.perf_counter() - t0) / len(xs))
        outs = outs or o
    return sorted(times)[len(times) // 2], outs


def main():
    example, model, work, image, n, side, reps = sys.argv[1:8]
    n, side, reps = int(n), int(side), int(reps)
    spec_path, wins = f"{work}/model.json", f"{work}/windows.bin"
    subprocess.run([example, "export", model, spec_path], check=True)
    subprocess.run([example, "windows", model, image, str(n), str(side), wins], check=True)
    spec = json.load(open(spec_path))
    onnx_model, oh, cout = build_onnx(spec, side)
    onnx_bytes = onnx_model.SerializeToString()
    open(f"{work}/detector.onnx", "wb").write(onnx_bytes)
    hwc = np.fromfile(wins, dtype="<f4").reshape(n, side, side, 3)
    xs = [np.ascontiguousarray(w.transpose(2, 0, 1)[None]) for w in hwc]
    print(f"bench-vs-onnxruntime: {n} windows of {side}x{side} working pixels "
          f"({spec['working_gsd_m']} m) from {os.path.basename(image)}; onnxruntime {ort.__version__}; "
          f"one view, batch 1, median of {reps}")
    print(f"{'threads':>7} {'stagewatch ms':>14} {'onnxruntime ms':>15} {'sw Mpx/s':>9} {'ort Mpx/s':>10} {'ratio (ort/sw time)':>20}")
    for threads in (1, 2):
        out = f"{work}/ours_{threads}.bin"
        t_sw = ours(example, model, wins, n, side, reps, out, threads)
        t_ort, o_ort = theirs(onnx_bytes, xs, reps, threads)
        # Again in the other order, so neither always runs on a warmer machine.
        t_sw = min(t_sw, ours(example, model, wins, n, side, reps, out, threads))
        mine = np.fromfile(out, dtype="<f4").reshape(n, oh, oh, cout)
        ref = np.stack([o[0].transpose(1, 2, 0) for o in o_ort])
        diff = float(np.abs(mine - ref).max())
        if not diff < 1e-3 * max(1.0, float(np.abs(ref).max())):
            sys.exit(f"outputs differ: max |diff| {diff}")
        mpx = side * side / 1e6
        print(f"{threads:>7} {t_sw * 1e3:>14.1f} {t_ort * 1e3:>15.1f} {mpx / t_sw:>9.2f} "
              f"{mpx / t_ort:>10.2f} {t_ort / t_sw:>19.2f}x   (max |out diff| {diff:.1e})")


if __name__ == "__main__":
    main()
