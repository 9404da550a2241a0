"""transformers 5 pipeline("token-classification") over an ONNX export's logits.

Request: {"folder": an optimum export (model.onnx + config + tokenizer), "texts": [...], "strategies": [...]}.
Answer: {"entities": {strategy: [[entity dicts] per text]}, "lengths": [tokens of each text, specials included,
before truncation]}.
The fixture has no PyTorch weights (only the ONNX file), so the pipeline gets a BertForTokenClassification built
from the folder's config whose forward runs that ONNX file in onnxruntime: tokenization (the folder's tokenizer,
truncated to model_max_length as the pipeline does by default), softmax, word merging and grouping are the
pipeline's own; only the forward pass is the same ONNX graph modelctl runs.
"""
import json
import sys

import numpy as np
import onnxruntime
import torch
from transformers import AutoConfig, AutoTokenizer, BertForTokenClassification, pipeline
from transformers.modeling_outputs import TokenClassifierOutput
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
folder = request["folder"]
options = onnxruntime.SessionOptions()
options.intra_op_num_threads = 1
session = onnxruntime.InferenceSession(f"{folder}/model.onnx", options, providers=["CPUExecutionProvider"])
feeds = [i.name for i in session.get_inputs()]


class OnnxTokenClassifier(BertForTokenClassification):
    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_):
        given = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
        (logits,) = session.run(["logits"], {k: given[k].numpy().astype(np.int64) for k in feeds})
        return TokenClassifierOutput(logits=torch.from_numpy(logits))


tokenizer = AutoTokenizer.from_pretrained(folder)
model = OnnxTokenClassifier(AutoConfig.from_pretrained(folder)).eval()
ner = pipeline("token-classification", model=model, tokenizer=tokenizer, device="cpu")


def plain(entity):
    return {k: (v.item() if hasattr(v, "item") else v) for k, v in entity.items()}


entities = {}
for strategy in request["strategies"]:
    found = ner(request["texts"], aggregation_strategy=strategy)
    entities[strategy] = [[plain(e) for e in text] for text in found]
lengths = [len(tokenizer(t)["input_ids"]) for t in request["texts"]]
print(json.dumps({"entities": entities, "lengths": lengths}))
