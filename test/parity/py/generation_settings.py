"""transformers' generate() with the logits processors generation_config.json switches on, greedy: the reference for
modelctl's own chain (src/tasks/generation/constraints.ts).

Request: {"folder": a transformers folder (its generation_config.json is read by generate() as it comes), "prompts":
[text], "kwargs": extra generate() arguments}. A decoder-only or an encoder-decoder model (config.is_encoder_decoder).
Answer: {"cases": [{"prompt_ids", "tokens" (the new ids; an encoder-decoder's start token left out), "scores" (per new
token, the processed scores; -inf as null), "margin" (the smallest gap between the best and second-best finite score
of a step that had two)}]}.
"""
import json
import math
import sys

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
folder = request["folder"]
tokenizer = AutoTokenizer.from_pretrained(folder)
encoder_decoder = AutoConfig.from_pretrained(folder).is_encoder_decoder
model = (AutoModelForSeq2SeqLM if encoder_decoder else AutoModelForCausalLM).from_pretrained(folder).eval()
pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
out = []
for prompt in request["prompts"]:
    inputs = dict(tokenizer(prompt, return_tensors="pt"))
    with torch.no_grad():
        g = model.generate(**inputs, **request.get("kwargs", {}), do_sample=False, output_scores=True,
                           return_dict_in_generate=True, pad_token_id=pad)
    skip = 1 if encoder_decoder else inputs["input_ids"].shape[1]
    tokens = g.sequences[0, skip:].tolist()
    scores = [s[0].float() for s in g.scores]
    gaps = []
    for s in scores:
        finite = s[torch.isfinite(s)]
        if finite.numel() >= 2:
            top = torch.topk(finite, 2).values
            gaps.append(float(top[0] - top[1]))
    out.append({"prompt_ids": inputs["input_ids"][0].tolist(), "tokens": tokens,
                "scores": [[v if math.isfinite(v) else None for v in s.tolist()] for s in scores],
                "margin": min(gaps) if gaps else None})
print(json.dumps({"cases": out}))
