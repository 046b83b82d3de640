"""ROAD references for ROADTests, computed by pytorch-grad-cam's own code.

Run from the repository root:
    python3 Tests/ExplainTests/Fixtures/make_road_fixtures.py
Needs torch, numpy, scipy and grad-cam (PyPI) — only here, never to build or test.

Writes road.json with small seeded cases (a 3-channel image, a map with ties —
zeros, as after a ReLU — and a percentile):
- "kept": `RemoveMostRelevantFirst` / `RemoveLeastRelevantFirst`'s binary mask
  (1 = kept) for the map as given;
- "imputed": `NoisyLinearImputer` with its noise set to 0 on that mask (the
  noise is random, so it is compared switched off);
- "road": `ROADCombined`, `ROADMostRelevantFirstAverage` and
  `ROADLeastRelevantFirstAverage` on a linear model (score = Σ weight · image),
  noise 0, with the map as the cam.
"""
import json
import os

import numpy as np
import torch
from pytorch_grad_cam.metrics import road
from pytorch_grad_cam.metrics.perturbation_confidence import RemoveLeastRelevantFirst, RemoveMostRelevantFirst

HERE = os.path.dirname(os.path.abspath(__file__))

# The imputer's noise off: ROAD's classes construct NoisyLinearImputer() with its defaults.
road.NoisyLinearImputer.__init__.__defaults__ = (0.0, road.neighbors_weights)


class Linear(torch.nn.Module):
    def __init__(self, weight):
        super().__init__()
        self.weight = weight

    def forward(self, x):
        return (x * self.weight).flatten(1).sum(1, keepdim=True)


def case(seed, h, w, percentile):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(3, h, w, generator=g) * 2 - 1
    cam = torch.rand(h, w, generator=g)
    cam[cam < 0.3] = 0  # ties, as a ReLU leaves them
    cam = (cam - cam.min()) / (1e-7 + cam.max() - cam.min())  # pytorch-grad-cam's scale_cam_image
    imputer = road.NoisyLinearImputer(noise=0.0)
    out = {"image": image.flatten().tolist(), "map": cam.flatten().tolist(), "height": h, "width": w,
           "percentile": percentile}
    for name, remove in [("morf", RemoveMostRelevantFirst), ("lerf", RemoveLeastRelevantFirst)]:
        masks = []

        def keep(img, mask):
            masks.append(mask)
            return img

        remove(percentile, keep)(image, cam)
        out[name + "_kept"] = [bool(v > 0.5) for v in masks[0].flatten().tolist()]
        out[name + "_imputed"] = imputer(image, masks[0]).flatten().tolist()
    weight = torch.rand(1, 3, h, w, generator=g) * 2 - 1
    model = Linear(weight)
    targets = [lambda o: o[0]]
    cams = cam.numpy()[None]
    x = image[None]
    out["weight"] = weight.flatten().tolist()
    out["road_morf"] = float(road.ROADMostRelevantFirstAverage()(x, cams, targets, model)[0])
    out["road_lerf"] = float(road.ROADLeastRelevantFirstAverage()(x, cams, targets, model)[0])
    out["road_combined"] = float(road.ROADCombined()(x, cams, targets, model)[0])
    return out


cases = [case(1, 9, 11, 30), case(2, 16, 12, 70), case(3, 7, 7, 90)]
with open(os.path.join(HERE, "road.json"), "w") as f:
    json.dump(cases, f)
print("wrote road.json:", len(cases), "cases")
