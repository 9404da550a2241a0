"""transformers' apply_chat_template(tokenize=False, add_generation_prompt=True) with a given template.

Request: {"folder": a tokenizer folder (its special tokens), "cases": [{"template", "messages"}]}. Answer:
{"rendered": [text, or {"error": message} when the template raises]}.
"""
import json
import sys

from transformers import AutoTokenizer
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
tokenizer = AutoTokenizer.from_pretrained(request["folder"])
out = []
for case in request["cases"]:
    try:
        out.append(tokenizer.apply_chat_template(case["messages"], chat_template=case["template"], tokenize=False,
                                                 add_generation_prompt=True))
    except Exception as err:  # noqa: BLE001 - the template's own refusal is the answer
        out.append({"error": str(err)})
print(json.dumps({"rendered": out}))
