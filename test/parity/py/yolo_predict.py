"""Ultralytics' own predict on a YOLO ONNX export: YOLO(model, task="detect").predict(image, imgsz, conf, iou).

Request: {"model": path, "images": [paths], "photos": folder or null, "imgsz": 64, "conf": 0.25, "iou": 0.45,
"letterbox": {"sizes": [64, ...], "noise": {"count": N, "seed": S}} or null}. With "photos", the real photos of
photos.py are written there first and predicted too.
Answer: {"results": [{"file", "width", "height", "detections": [{"class_id", "label", "score", "box"}]}],
"letterboxed": [{"file", "size", "pixels"}]}: with "letterbox", what Ultralytics' LetterBox makes of cv2.imread's
pixels (8-bit RGB, row-major) for every image (and the noise PNGs, written to the photos folder) at every size.
"""
import json
import sys

import numpy as np

from photos import write_noise, write_photos

request = json.load(sys.stdin)
files = list(request["images"]) + (write_photos(request["photos"]) if request.get("photos") else [])

from ultralytics import YOLO  # noqa: E402 (after the request: its import is slow and prints)
from ultralytics.data.augment import LetterBox  # noqa: E402
from ultralytics.utils.patches import imread  # noqa: E402

model = YOLO(request["model"], task="detect")
results = []
for file in files:
    (r,) = model.predict(file, imgsz=request["imgsz"], conf=request["conf"], iou=request["iou"], verbose=False)
    boxes = r.boxes
    detections = [
        {"class_id": int(c), "label": r.names[int(c)], "score": float(s), "box": [float(v) for v in b]}
        for b, s, c in zip(boxes.xyxy.double().tolist(), boxes.conf.tolist(), boxes.cls.tolist())
    ]
    h, w = r.orig_shape
    results.append({"file": file, "width": int(w), "height": int(h), "detections": detections})

letterboxed = []
if request.get("letterbox"):
    spec = request["letterbox"]
    noise = spec.get("noise")
    extra = write_noise(request["photos"], noise["count"], noise["seed"]) if noise else []
    for file in files + extra:
        bgr = imread(file)
        for size in spec["sizes"]:
            # The predictor's own LetterBox for a static ONNX export (auto=False), then BGR to RGB as it does.
            boxed = LetterBox(size, auto=False, stride=32)(image=bgr)[..., ::-1]
            letterboxed.append({"file": file, "size": size, "pixels": np.ascontiguousarray(boxed).reshape(-1).tolist()})
print(json.dumps({"results": results, "letterboxed": letterboxed}))
