"""transformers pipeline("fill-mask") on the PyTorch masked LM an ONNX export was made from.

Request: {"folder": a transformers folder, "texts": [...], "top_k": K or null (the pipeline's default, 5)}. Answer:
{"results": [per text: [per mask: [{"score", "token", "token_str", "sequence"}, ...]] or null when the pipeline
refused the text], "errors": [per text: null, or the refusal's class and message]}. The pipeline returns one
text's single mask as one list; here it is always one list per mask.
"""
import json
import sys

from transformers import pipeline
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
fill = pipeline("fill-mask", model=request["folder"], device="cpu")
kwargs = {} if request.get("top_k") is None else {"top_k": request["top_k"]}
results, errors = [], []
for text in request["texts"]:
    try:
        got = fill(text, **kwargs)
    except Exception as err:  # noqa: BLE001 - what the pipeline raises is the answer
        results.append(None)
        errors.append(f"{type(err).__name__}: {err}")
        continue
    results.append([got] if got and isinstance(got[0], dict) else got)
    errors.append(None)
print(json.dumps({"results": results, "errors": errors, "mask_token": fill.tokenizer.mask_token}))
