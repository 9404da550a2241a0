"""Tiny random causal LMs of other architectures, built from configs, and transformers' greedy generate() on each.

Request: {"tokenizer": a tokenizer folder, "out": a folder to write the models into, "archs": [names of ARCHS],
"prompt": text, "max_new_tokens": n}. Answer: {"models": {arch: {"folder", "tokens"}}}. The models are seeded
and use a wide initializer_range (greedy choices far from ties), the tokenizer's ids for bos and eos.
"""
import json
import os
import sys

import torch
import transformers
from transformers import AutoTokenizer
from transformers.utils import logging

ARCHS = {
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                                      num_key_value_heads=2, max_position_embeddings=128)),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                                   num_key_value_heads=4, max_position_embeddings=128, pad_token_id=None)),
    "gpt_neox": ("GPTNeoXConfig", "GPTNeoXForCausalLM", dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                             num_attention_heads=4, max_position_embeddings=128)),
    "falcon": ("FalconConfig", "FalconForCausalLM", dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                                         new_decoder_architecture=False, multi_query=True)),
    "bloom": ("BloomConfig", "BloomForCausalLM", dict(hidden_size=32, n_layer=2, n_head=4)),
}

logging.set_verbosity_error()
request = json.load(sys.stdin)
tok = AutoTokenizer.from_pretrained(request["tokenizer"])
out = {}
for name in request["archs"]:
    config_class, model_class, kwargs = ARCHS[name]
    torch.manual_seed(0)
    config = getattr(transformers, config_class)(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                                 initializer_range=0.3, **kwargs)
    model = getattr(transformers, model_class)(config).eval()
    folder = os.path.join(request["out"], name)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    x = tok(request["prompt"], return_tensors="pt", return_token_type_ids=False)
    with torch.no_grad():
        generated = model.generate(**x, max_new_tokens=request["max_new_tokens"], do_sample=False, pad_token_id=tok.eos_token_id)
    out[name] = {"folder": folder, "tokens": generated[0, x["input_ids"].shape[1]:].tolist()}
print(json.dumps({"models": out}))
