"""The pixel_values transformers 5's image processor makes, for variants of optimum-vit-tiny's preprocessor_config.json.

Request: {"folder": work folder, "fixture": optimum-vit-tiny's folder, "images": [paths], "photos": bool,
"variants": [{"name": str, "overrides": {field: value}}]}. Each variant's preprocessor_config.json (the fixture's with
the overrides) is written to folder/<name>/ and loaded by AutoImageProcessor.from_pretrained, as pipeline() loads it;
each image is read by transformers.image_utils.load_image, as the pipeline reads a path.
Answer: {"variants": [{"name", "processor", "config", "results": [{"file", "shape", "pixel_values": base64 float32}]}]}.
"""
import base64
import json
import sys
from pathlib import Path

import numpy as np

from photos import write_photos

request = json.load(sys.stdin)
work = Path(request["folder"])
files = list(request["images"]) + (write_photos(str(work / "photos")) if request.get("photos") else [])

from transformers import AutoImageProcessor  # noqa: E402
from transformers.image_utils import load_image  # noqa: E402

base = json.loads((Path(request["fixture"]) / "preprocessor_config.json").read_text())
variants = []
for variant in request["variants"]:
    folder = work / variant["name"]
    folder.mkdir(parents=True, exist_ok=True)
    config = {**base, **variant["overrides"]}
    (folder / "preprocessor_config.json").write_text(json.dumps(config, indent=2))
    processor = AutoImageProcessor.from_pretrained(str(folder))
    results = []
    for file in files:
        pv = processor(images=load_image(file), return_tensors="pt")["pixel_values"][0].numpy().astype(np.float32)
        results.append({"file": file, "shape": list(pv.shape), "pixel_values": base64.b64encode(pv.tobytes()).decode()})
    variants.append({
        "name": variant["name"],
        "processor": f"{type(processor).__module__}.{type(processor).__name__}",
        "config": str(folder / "preprocessor_config.json"),
        "results": results,
    })
print(json.dumps({"variants": variants}))
