"""transformers' beam search (generate() with num_beams > 1) over a model whose next-token logits come from a table:
modelctl's beam search (src/tasks/generation/beam.ts) is given the same logits, so any difference in the tokens or the
score is the search's, not a model's.

Request: {"tables": [table, ...], each [[float32 logits over the vocabulary], ...] (R rows), "cases": [{"start", "num_beams",
"max_new_tokens", "length_penalty", "early_stopping", "eos" (ids), optional "no_repeat_ngram_size", "min_length",
"forced_bos_token_id", "forced_eos_token_id", "repetition_penalty"}]}. The logits after a sequence are the table's row
(last token * 7 + length) mod R. Answer: {"tables": [{"cases": [{"tokens" (new ids), "sequence_score", "hypotheses" (every beam's finished
hypothesis, best first, padded with the first end token)}]}]}: every case run over every table.
"""
import json
import sys

import torch
from transformers import GenerationConfig, GenerationMixin, PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import CausalLMOutput
from transformers.utils import logging

logging.set_verbosity_error()


class TableConfig(PretrainedConfig):
    model_type = "modelctl-table"


class TableLM(PreTrainedModel, GenerationMixin):
    config_class = TableConfig

    def __init__(self, config, table):
        super().__init__(config)
        self.table = torch.tensor(table, dtype=torch.float32)
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        rows = [(seq[-1] * 7 + len(seq)) % self.table.shape[0] for seq in input_ids.tolist()]
        return CausalLMOutput(logits=self.table[rows][:, None, :].clone())

    def prepare_inputs_for_generation(self, input_ids, attention_mask=None, **kwargs):
        return {"input_ids": input_ids}


def run(table, cases):
    model = TableLM(TableConfig(vocab_size=len(table[0])), table).eval()
    return [search(model, case) for case in cases]


def search(model, case):
    config = GenerationConfig(
        num_beams=case["num_beams"], max_new_tokens=case["max_new_tokens"], length_penalty=case["length_penalty"],
        early_stopping=case["early_stopping"], eos_token_id=case["eos"], pad_token_id=case["eos"][0], do_sample=False,
        use_cache=False, no_repeat_ngram_size=case.get("no_repeat_ngram_size"), min_length=case.get("min_length", 0),
        forced_bos_token_id=case.get("forced_bos_token_id"), forced_eos_token_id=case.get("forced_eos_token_id"),
        repetition_penalty=case.get("repetition_penalty"), num_return_sequences=case["num_beams"],
        output_scores=True, return_dict_in_generate=True,
    )
    ids = torch.tensor([[case["start"]]])
    with torch.no_grad():
        g = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config)
    hyps = [{"tokens": seq[1:], "score": score} for seq, score in zip(g.sequences.tolist(), g.sequences_scores.tolist())]
    return {"tokens": hyps[0]["tokens"], "sequence_score": hyps[0]["score"], "hypotheses": hyps}


request = json.load(sys.stdin)
print(json.dumps({"tables": [{"cases": run(t, request["cases"])} for t in request["tables"]]}))
