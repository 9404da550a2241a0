"""transformers 5 pipeline("text-classification") on the PyTorch model an ONNX export was made from.

Request: {"folder": a transformers folder (config, safetensors, tokenizer), "texts": [...]}. Answer: {"labels":
[[{"label", "score"}, ... every label, best first] per text], "plain_error": [null, or the error the pipeline
raised without truncation=True, per text]}. Texts over the model's positions fail in a plain call (the position
embeddings run out); with truncation=True the tokenizer cuts them to model_max_length, which is what a user does.
"""
import json
import sys

from transformers import pipeline
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
classify = pipeline("text-classification", model=request["folder"], device="cpu")
labels = classify(request["texts"], top_k=None, truncation=True)
plain_error = []
for text in request["texts"]:
    try:
        classify(text, top_k=None)
        plain_error.append(None)
    except Exception as err:  # noqa: BLE001 - what the plain call raises is the answer
        plain_error.append(type(err).__name__)
print(json.dumps({"labels": labels, "plain_error": plain_error}))
