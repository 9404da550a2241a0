"""transformers 4's text2text-generation, summarization and translation pipelines (removed in transformers 5, so this
runs in the hf converter environment, transformers 4.57.6) on the PyTorch model an export was made from: the
pipelines' own output names, config.json's task_specific_params (prefix and generation settings) and prefix.

Request: {"folder", "cases": [{"task", "text", optional "max_new_tokens", "num_beams"}]}. (Where the model's
generation_config.json and task_specific_params say nothing, these pipelines default to 4 beams and 256 new tokens;
modelctl follows generate(): greedy, 20.) Answer: {"cases": [the pipeline's
answer for the one text: {"summary_text": ...} or {"translation_text": ...} or {"generated_text": ...}]}.
"""
import json
import sys

from transformers import pipeline
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
pipes = {}
out = []
for case in request["cases"]:
    task = case["task"]
    if task not in pipes:
        pipes[task] = pipeline(task, model=request["folder"], tokenizer=request["folder"], device="cpu")
    kwargs = {k: case[k] for k in ("max_new_tokens", "num_beams") if case.get(k) is not None}
    out.append(pipes[task](case["text"], **kwargs)[0])
print(json.dumps({"cases": out}))
