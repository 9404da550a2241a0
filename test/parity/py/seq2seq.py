"""transformers' generate() on the PyTorch encoder-decoder model an ONNX export was made from: what a user would
otherwise run (transformers 5 has no summarization or translation pipeline any more: generate() is the reference).

Request: {"folder": a transformers folder, "cases": [{"text", optional "max_new_tokens", "num_beams", "length_penalty",
"early_stopping" (true, false or "never"), "no_repeat_ngram_size", "repetition_penalty"}]}; what a case leaves out
comes from the model's generation_config.json, as for modelctl. Answer: {"cases": [{"prompt_ids", "tokens" (the new
ids, the decoder start token left out), "text" (decoded with skip_special_tokens), "scores" (greedy: per new token, the
processed scores over the vocabulary), "margin" (greedy: the smallest gap between the best and second-best score of any
step), "sequence_score" (beam search: sequences_scores), "num_beams"}]}.
"""
import json
import math
import sys

import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
tokenizer = AutoTokenizer.from_pretrained(request["folder"])
model = AutoModelForSeq2SeqLM.from_pretrained(request["folder"]).eval()
KEYS = ("max_new_tokens", "num_beams", "length_penalty", "early_stopping", "no_repeat_ngram_size", "repetition_penalty")
out = []
for case in request["cases"]:
    inputs = tokenizer(case["text"], return_tensors="pt")
    kwargs = {k: case[k] for k in KEYS if case.get(k) is not None}
    with torch.no_grad():
        g = model.generate(**inputs, **kwargs, do_sample=False, output_scores=True, return_dict_in_generate=True)
    tokens = g.sequences[0, 1:].tolist()
    beams = kwargs.get("num_beams", model.generation_config.num_beams or 1)
    answer = {"prompt_ids": inputs["input_ids"][0].tolist(), "tokens": tokens, "num_beams": beams,
              "text": tokenizer.decode(tokens, skip_special_tokens=True)}
    if beams > 1:
        answer["sequence_score"] = float(g.sequences_scores[0])
    else:
        scores = [s[0].float() for s in g.scores]
        # -inf (a token a processor banned) as null: JSON has no infinities.
        answer["scores"] = [[v if math.isfinite(v) else None for v in s.tolist()] for s in scores]
        gaps = []
        for s in scores:
            top = torch.topk(s, 2).values
            # A step the processors forced (one finite score) has no runner-up to be close to.
            if torch.isfinite(top[1]):
                gaps.append(float(top[0] - top[1]))
        answer["margin"] = min(gaps) if gaps else None
    out.append(answer)
print(json.dumps({"cases": out}))
