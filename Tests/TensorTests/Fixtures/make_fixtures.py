"""Forward-value fixtures for the Tensor module, computed by PyTorch.

Run from the repository root when an op's reference must change:
    python3 Tests/TensorTests/Fixtures/make_fixtures.py
PyTorch is needed only here, never to build or test the project.
Writes Tests/TensorTests/Fixtures/ops.json: a list of cases, each with the op,
its arguments, its inputs and the expected output (flattened, row-major).
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(20261130)
cases = []


def t(x):
    return {"shape": list(x.shape), "data": [round(float(v), 7) for v in x.reshape(-1).tolist()]}


def add(op, args, inputs, output):
    cases.append({"op": op, "args": args, "inputs": [t(i) for i in inputs], "output": t(output)})


for (n, c, h, w, o, k, stride, pad, dil, groups, bias) in [
    (1, 3, 7, 6, 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
    (2, 4, 9, 8, 6, (3, 3), (2, 2), (1, 1), (1, 1), 2, True),
    (1, 2, 8, 9, 3, (3, 2), (1, 2), (2, 0), (2, 1), 1, False),
    (1, 6, 5, 5, 6, (3, 3), (1, 1), (1, 1), (1, 1), 6, True),
    (2, 5, 4, 6, 3, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),
    (1, 4, 7, 7, 8, (1, 1), (2, 2), (0, 0), (1, 1), 1, False),
    (1, 3, 11, 10, 4, (7, 7), (2, 2), (3, 3), (1, 1), 1, False),
]:
    x = torch.randn(n, c, h, w)
    wt = torch.randn(o, c // groups, *k)
    b = torch.randn(o) if bias else None
    y = F.conv2d(x, wt, b, stride=stride, padding=pad, dilation=dil, groups=groups)
    add("conv2d", {"stride": list(stride), "padding": list(pad), "dilation": list(dil), "groups": groups},
        [x, wt] + ([b] if bias else []), y)

for (shape, k, s, p, ceil) in [((1, 2, 7, 7), (3, 3), (2, 2), (1, 1), False),
                               ((2, 3, 6, 5), (2, 2), (2, 2), (0, 0), False),
                               ((1, 1, 7, 6), (3, 2), (2, 2), (1, 0), True)]:
    x = torch.randn(*shape)
    add("max_pool2d", {"kernel": list(k), "stride": list(s), "padding": list(p), "ceil_mode": ceil},
        [x], F.max_pool2d(x, k, s, p, ceil_mode=ceil))
    add("avg_pool2d", {"kernel": list(k), "stride": list(s), "padding": list(p), "ceil_mode": ceil},
        [x], F.avg_pool2d(x, k, s, p, ceil_mode=ceil))

for (shape, size) in [((1, 2, 7, 5), (3, 2)), ((2, 3, 14, 14), (7, 7)), ((1, 1, 5, 9), (5, 4))]:
    x = torch.randn(*shape)
    add("adaptive_avg_pool2d", {"size": list(size)}, [x], F.adaptive_avg_pool2d(x, size))

for (shape, size) in [((1, 2, 4, 5), (9, 7)), ((2, 1, 14, 14), (32, 40)), ((1, 3, 9, 8), (4, 3))]:
    x = torch.randn(*shape)
    add("resize_bilinear", {"size": list(size)}, [x],
        F.interpolate(x, size=size, mode="bilinear", align_corners=False))

for axis in [0, 1, -1]:
    x = torch.randn(3, 4, 5) * 10
    add("log_softmax", {"axis": axis}, [x], F.log_softmax(x, dim=axis))
    add("softmax", {"axis": axis}, [x], F.softmax(x, dim=axis))

x = torch.randn(2, 4, 3, 3)
mean, var = torch.randn(4), torch.rand(4) + 0.5
weight, bias = torch.randn(4), torch.randn(4)
add("batch_norm", {"eps": 1e-5}, [x, mean, var, weight, bias],
    F.batch_norm(x, mean, var, weight, bias, training=False, eps=1e-5))

x = torch.randn(3, 7)
add("l2_normalize", {"axis": 1}, [x], F.normalize(x, dim=1))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ops.json")
with open(out, "w") as f:
    json.dump(cases, f, separators=(",", ":"))
print(f"wrote {len(cases)} cases to {out}")
