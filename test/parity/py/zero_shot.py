"""transformers pipeline("zero-shot-classification") on the PyTorch NLI classifier an ONNX export was made from.

Request: {"folder", "texts": [...], "cases": [{"candidate_labels": [...] or "a,b", "hypothesis_template": optional,
"multi_label": optional}, ...]}. Answer: {"results": [per case: [{"sequence", "labels", "scores"} per text]]}.
"""
import json
import sys

from transformers import pipeline
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
classify = pipeline("zero-shot-classification", model=request["folder"], device="cpu")
results = []
for case in request["cases"]:
    kwargs = {k: case[k] for k in ("hypothesis_template", "multi_label") if case.get(k) is not None}
    results.append([classify(text, candidate_labels=case["candidate_labels"], **kwargs) for text in request["texts"]])
print(json.dumps({"results": results}))
