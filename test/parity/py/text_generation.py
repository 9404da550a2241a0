"""transformers' generate() on the PyTorch causal LM an ONNX export was made from: what a user would otherwise run.

Request: {"folder": a transformers folder, "cases": [{"prompt": text} or {"messages": [{"role", "content"}...]},
plus "max_new_tokens", optional "repetition_penalty"]}. Each case is tokenized as a user does it (tokenizer(prompt),
or apply_chat_template(messages, add_generation_prompt=True) for a chat) and continued greedily with
output_scores. Answer: {"cases": [{"prompt_ids", "tokens" (new ids), "text" (decoded with skip_special_tokens),
"scores" (per new token, the processed scores over the vocabulary), "margin" (the smallest gap between the best
and second-best score of any step: how far the greedy choices are from a tie), "rendered" (chat: the template's
text, apply_chat_template(tokenize=False))}]}.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
tokenizer = AutoTokenizer.from_pretrained(request["folder"])
model = AutoModelForCausalLM.from_pretrained(request["folder"]).eval()
out = []
for case in request["cases"]:
    answer = {}
    if "messages" in case:
        answer["rendered"] = tokenizer.apply_chat_template(case["messages"], tokenize=False, add_generation_prompt=True)
        ids = tokenizer.apply_chat_template(case["messages"], tokenize=True, add_generation_prompt=True, return_dict=True,
                                            return_tensors="pt")
        inputs = {"input_ids": ids["input_ids"], "attention_mask": ids["attention_mask"]}
    else:
        inputs = dict(tokenizer(case["prompt"], return_tensors="pt"))
    kwargs = {"max_new_tokens": case["max_new_tokens"], "do_sample": False}
    if case.get("repetition_penalty") is not None:
        kwargs["repetition_penalty"] = float(case["repetition_penalty"])
    with torch.no_grad():
        generated = model.generate(**inputs, **kwargs, output_scores=True, return_dict_in_generate=True,
                                   pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
    prompt_len = inputs["input_ids"].shape[1]
    new = generated.sequences[0, prompt_len:].tolist()
    scores = [s[0].float() for s in generated.scores]
    margins = [float(torch.topk(s, 2).values[0] - torch.topk(s, 2).values[1]) for s in scores]
    answer.update(prompt_ids=inputs["input_ids"][0].tolist(), tokens=new, text=tokenizer.decode(new, skip_special_tokens=True),
                  scores=[s.tolist() for s in scores], margin=min(margins) if margins else None)
    out.append(answer)
print(json.dumps({"cases": out}))
