"""transformers' own logits processors on given rows of logits, in the order generate() chains them.

Request: {"rows": [[float, ...], ...] (float32 logits), "ids": [[int, ...], ...] (the sequence so far, per row),
"cases": [{"repetition_penalty", "temperature", "top_k", "top_p"} (each optional)]}. Answer: {"cases": [[row, ...]]}:
per case the processed rows, float32, -inf written as null (JSON has no infinity). Sampling warpers are applied as
with do_sample=True: RepetitionPenalty, then Temperature, TopK, TopP (GenerationMixin._get_logits_processor).
"""
import json
import math
import sys

import torch
from transformers.generation.logits_process import (LogitsProcessorList, RepetitionPenaltyLogitsProcessor,
                                                    TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper)

request = json.load(sys.stdin)
rows = torch.tensor(request["rows"], dtype=torch.float32)
ids = torch.tensor(request["ids"], dtype=torch.long)
out = []
for case in request["cases"]:
    chain = LogitsProcessorList()
    if case.get("repetition_penalty") not in (None, 1.0):
        chain.append(RepetitionPenaltyLogitsProcessor(float(case["repetition_penalty"])))
    if case.get("temperature") not in (None, 1.0):
        chain.append(TemperatureLogitsWarper(float(case["temperature"])))
    if case.get("top_k"):
        chain.append(TopKLogitsWarper(int(case["top_k"])))
    if case.get("top_p") not in (None, 1.0):
        chain.append(TopPLogitsWarper(float(case["top_p"])))
    processed = chain(ids, rows.clone())
    out.append([[None if math.isinf(v) else v for v in row] for row in processed.tolist()])
print(json.dumps({"cases": out}))
