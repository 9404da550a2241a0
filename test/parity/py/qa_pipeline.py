"""transformers' question-answering pipeline (4.57: transformers 5 removed it) over an ONNX export, as optimum runs it.

Request: {"folder": an optimum export (model.onnx + config + tokenizer), "items": [{"question", "context"}],
"top_ks": [K, ...]}. Answer: {"answers": {"K": [[{"answer", "score", "start", "end"}, ...] per item]}, "windows":
[how many windows the pipeline cut each item's context into]}.
The model runs in onnxruntime through optimum's ORTModelForQuestionAnswering, which is what a user holding that
folder hands to pipeline(); the tokenization, windowing and answer selection are the pipeline's own (its defaults).
"""
import json
import sys

from optimum.onnxruntime import ORTModelForQuestionAnswering
from transformers import AutoTokenizer, pipeline
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
folder = request["folder"]
tokenizer = AutoTokenizer.from_pretrained(folder)
qa = pipeline("question-answering", model=ORTModelForQuestionAnswering.from_pretrained(folder), tokenizer=tokenizer)
answers = {}
for top_k in request["top_ks"]:
    answers[str(top_k)] = []
    for item in request["items"]:
        out = qa(question=item["question"], context=item["context"], top_k=top_k)
        answers[str(top_k)].append(out if isinstance(out, list) else [out])
# The pipeline's own defaults: max_seq_len min(model_max_length, 384), doc_stride min(max_seq_len // 2, 128).
max_seq_len = min(tokenizer.model_max_length, 384)
windows = [
    len(tokenizer(item["question"], item["context"], truncation="only_second", max_length=max_seq_len,
                  stride=min(max_seq_len // 2, 128), return_overflowing_tokens=True)["input_ids"])
    for item in request["items"]
]
print(json.dumps({"answers": answers, "windows": windows}))
