"""transformers' own image-classification pipeline on tiny ViTs, and the pixel_values its image processor makes.

Request: {"folder": work folder, "fixture": optimum-vit-tiny's folder, "images": [paths], "photos": bool,
"sizes": [32, 224], "seed": S}. For 32, the fixture's ONNX model: the same random-init ViT is rebuilt from
fixtures/generate.py's config and seed (torch.manual_seed(5)) and checked against the ONNX export on the fixture's
pixel_values.npy; for any other size a ViT with that image_size is built from a config and exported to ONNX here
(torch.onnx.export). Each model is saved as a Hugging Face folder (safetensors, config.json, the processor's
preprocessor_config.json and model.onnx side by side) and run by pipeline("image-classification", model=folder),
as a user would, with function_to_apply="none" for the logits.
Answer: {"models": [{"size", "folder", "onnx", "processor", "results": [{"file", "width", "height", "logits",
"labels": [[label, logit]] (function_to_apply="none"), "scores": [[label, probability]] (the default),
"pixel_values": base64 float32 [3, H, W]}]}]}.
"""
import base64
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from photos import write_photos

request = json.load(sys.stdin)
work = Path(request["folder"])
files = list(request["images"]) + (write_photos(str(work / "photos")) if request.get("photos") else [])

from PIL import Image  # noqa: E402
from transformers import AutoImageProcessor, ViTConfig, ViTForImageClassification, pipeline  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()
LABELS = {0: "cat", 1: "dog", 2: "bird"}


def vit(image_size: int, patch_size: int) -> ViTForImageClassification:
    # fixtures/generate.py's config (gen_optimum_vit_tiny), image_size and patch_size aside
    config = ViTConfig(
        image_size=image_size, patch_size=patch_size, num_channels=3, hidden_size=32, num_hidden_layers=2,
        num_attention_heads=2, intermediate_size=37, id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
        initializer_range=0.5,
    )
    return ViTForImageClassification(config).eval()


def processor_config(size: int) -> dict:
    raw = json.loads((Path(request["fixture"]) / "preprocessor_config.json").read_text())
    raw["size"] = {"height": size, "width": size}
    return raw


models = []
for size in request["sizes"]:
    folder = work / f"vit-{size}"
    folder.mkdir(parents=True, exist_ok=True)
    if size == 32:
        torch.manual_seed(5)  # generate.py: torch.manual_seed(SEED + 5), SEED = 0
        model = vit(32, 8)
        shutil.copyfile(Path(request["fixture"]) / "model.onnx", folder / "model.onnx")
        import onnxruntime as ort

        pv = np.load(Path(request["fixture"]) / "pixel_values.npy")
        with torch.no_grad():
            mine = model(pixel_values=torch.from_numpy(pv)).logits.numpy()
        theirs = ort.InferenceSession(str(folder / "model.onnx")).run(["logits"], {"pixel_values": pv})[0]
        if np.abs(mine - theirs).max() > 1e-4:
            raise SystemExit(f"the rebuilt ViT is not the fixture's: logits differ by {np.abs(mine - theirs).max()}")
    else:
        torch.manual_seed(request["seed"])
        model = vit(size, 32)
        dummy = torch.zeros(1, 3, size, size)
        torch.onnx.export(
            model, (dummy,), str(folder / "model.onnx"), input_names=["pixel_values"], output_names=["logits"],
            dynamic_axes={"pixel_values": {0: "batch"}, "logits": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    model.save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps(processor_config(size), indent=2))

    classify = pipeline("image-classification", model=str(folder), device="cpu")
    processor = classify.image_processor
    results = []
    for file in files:
        out = classify(file, function_to_apply="none", top_k=None)
        scored = classify(file, top_k=None)  # the pipeline's default: softmax over the labels
        # The pixel_values the pipeline's preprocess gives the model, for the same file
        pixel_values = classify.preprocess(file)["pixel_values"][0].numpy().astype(np.float32)
        with torch.no_grad():
            logits = model(pixel_values=torch.from_numpy(pixel_values)[None]).logits[0].tolist()
        results.append({
            "file": file,
            "width": Image.open(file).width,
            "height": Image.open(file).height,
            "logits": logits,
            "labels": [[o["label"], o["score"]] for o in out],
            "scores": [[o["label"], o["score"]] for o in scored],
            "pixel_values": base64.b64encode(pixel_values.tobytes()).decode(),
        })
    models.append({
        "size": size,
        "folder": str(folder),
        "onnx": str(folder / "model.onnx"),
        "processor": f"{type(processor).__module__}.{type(processor).__name__}",
        "results": results,
    })
print(json.dumps({"models": models}))
