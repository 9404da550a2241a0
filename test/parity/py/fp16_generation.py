"""Float16 generative models: the conversion a user makes (onnxconverter_common) and a greedy loop over the same file.

Request {"mode": "convert", "files": [[src, dst], ...]}: each ONNX file converted with onnxconverter_common's
convert_float_to_float16(keep_io_types=False), so that its float inputs and outputs (logits, the KV cache, encoder
states) are float16 as in the `*_fp16.onnx` files transformers.js-style Hub repos ship. Answer: {"files": [{"inputs":
{name: type}, "outputs": {name: type}}]} (ONNX element type names). Runs where onnx and onnxconverter_common are.

Request {"mode": "causal", "model": decoder .onnx, "folder": its tokenizer, "prompts": [...], "max_new_tokens",
"eos": [ids]}: each prompt tokenized as tokenizer(prompt) does, then greedy decoding in onnxruntime with the cache:
the prompt first (an empty past, use_cache_branch False when the graph has it), then one token per run fed the
present.* of the run before. Stops after max_new_tokens or at an end token.

Request {"mode": "seq2seq", "encoder", "decoder": decoder_model_merged, "folder", "texts": [...] (tokenized as
tokenizer(text) does) or "images": [paths] (the folder's image processor's pixel_values, in the type the encoder
takes), "max_new_tokens", "eos": [ids], "start": decoder_start_token_id}: the encoder run once, then the merged decoder one token per run from
the start token (use_cache_branch False and an empty past at the first step, True after with the self-attention
cache of the run before and the cross-attention cache of the first).

Both greedy answers: {"cases": [{"prompt_ids", "tokens" (new ids), "logits" (per new token, the float16 logits it
was chosen from, as float), "margin" (the smallest gap between the best and second-best logit of any step),
"dtype" (of the logits output)}]}. Runs where onnxruntime and transformers (tokenizer, image processor) are.
"""
import json
import sys

import numpy as np

request = json.load(sys.stdin)
ELEMENT = {1: "float32", 10: "float16", 7: "int64", 9: "bool", 6: "int32"}


def subgraphs(graph):
    """The graph and every graph inside its nodes' attributes (If branches, Loop bodies), depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                yield from subgraphs(sub)


def convert(files):
    import onnx
    from onnxconverter_common import float16

    answers = []
    for src, dst in files:
        model = float16.convert_float_to_float16(onnx.load(src), keep_io_types=False)
        # onnxconverter_common 1.16 marks a Cast(to=float)'s output float16 but leaves the Cast itself casting to
        # float32 (onnxruntime then refuses the file): such a Cast is made to cast to float16, in the main graph and
        # in the If branches of a merged decoder.
        graphs = list(subgraphs(model.graph))
        half = {v.name for g in graphs for v in [*g.value_info, *g.output]
                if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT16}
        for node in (n for g in graphs for n in g.node):
            if node.op_type == "Cast" and node.output[0] in half:
                for attr in node.attribute:
                    if attr.name == "to" and attr.i == onnx.TensorProto.FLOAT:
                        attr.i = onnx.TensorProto.FLOAT16
        onnx.save(model, dst)
        types = lambda values: {v.name: ELEMENT.get(v.type.tensor_type.elem_type, str(v.type.tensor_type.elem_type))
                                for v in values}
        answers.append({"inputs": types(model.graph.input), "outputs": types(model.graph.output)})
    return {"files": answers}


def session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


NUMPY = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def empty_past(sess, rows):
    """Each past_key_values.* input as [rows, heads, 0, head_dim] of its own type."""
    return {i.name: np.zeros((rows, i.shape[1], 0, i.shape[3]), dtype=NUMPY[i.type])
            for i in sess.get_inputs() if i.name.startswith("past_key_values.")}


def pick(logits, answer):
    row = logits.astype(np.float32)
    best = int(np.argmax(row))
    top2 = np.sort(row)[-2:]
    answer["margin"] = min(answer.get("margin", float("inf")), float(top2[1] - top2[0]))
    answer["logits"].append(row.tolist())
    answer["tokens"].append(best)
    return best


def causal(req):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(req["folder"])
    sess = session(req["model"])
    names = {i.name for i in sess.get_inputs()}
    outputs = [o.name for o in sess.get_outputs()]
    cases = []
    for prompt in req["prompts"]:
        ids = tokenizer(prompt)["input_ids"]
        answer = {"prompt_ids": ids, "tokens": [], "logits": [],
                  "dtype": next(o.type for o in sess.get_outputs() if o.name == "logits")}
        past = empty_past(sess, 1)
        run, length = ids, 0
        while True:
            feeds = {"input_ids": np.array([run], dtype=np.int64), **past}
            if "attention_mask" in names:
                feeds["attention_mask"] = np.ones((1, length + len(run)), dtype=np.int64)
            if "position_ids" in names:
                feeds["position_ids"] = np.arange(length, length + len(run), dtype=np.int64)[None, :]
            if "use_cache_branch" in names:
                feeds["use_cache_branch"] = np.array([length > 0])
            result = dict(zip(outputs, sess.run(outputs, feeds)))
            length += len(run)
            past = {name: result[name.replace("past_key_values.", "present.")] for name in past}
            token = pick(result["logits"][0, -1], answer)
            if token in req["eos"] or len(answer["tokens"]) >= req["max_new_tokens"]:
                break
            run = [token]
        cases.append(answer)
    return {"cases": cases}


def encoder_feeds(req, encoder):
    """Each input's encoder feeds and prompt ids (texts: tokenizer(text); images: the image processor's pixels)."""
    enc_inputs = {i.name: i.type for i in encoder.get_inputs()}
    if "images" in req:
        from PIL import Image
        from transformers import AutoImageProcessor

        processor = AutoImageProcessor.from_pretrained(req["folder"])
        for path in req["images"]:
            pixels = processor(Image.open(path).convert("RGB"), return_tensors="np")["pixel_values"]
            yield {"pixel_values": pixels.astype(NUMPY[enc_inputs["pixel_values"]])}, []
        return
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(req["folder"])
    for text in req["texts"]:
        ids = tokenizer(text)["input_ids"]
        feeds = {"input_ids": np.array([ids], dtype=np.int64)}
        if "attention_mask" in enc_inputs:
            feeds["attention_mask"] = np.ones((1, len(ids)), dtype=np.int64)
        yield feeds, ids


def seq2seq(req):
    encoder, decoder = session(req["encoder"]), session(req["decoder"])
    names = {i.name for i in decoder.get_inputs()}
    outputs = [o.name for o in decoder.get_outputs()]
    cases = []
    for feeds, ids in encoder_feeds(req, encoder):
        states = encoder.run(["last_hidden_state"], feeds)[0]
        mask = np.ones(states.shape[:2], dtype=np.int64)
        answer = {"prompt_ids": ids, "tokens": [], "logits": [],
                  "dtype": next(o.type for o in decoder.get_outputs() if o.name == "logits")}
        past = empty_past(decoder, 1)
        token, first = req["start"], True
        while True:
            feeds = {"input_ids": np.array([[token]], dtype=np.int64), "encoder_hidden_states": states,
                     "use_cache_branch": np.array([not first]), **past}
            if "encoder_attention_mask" in names:
                feeds["encoder_attention_mask"] = mask
            result = dict(zip(outputs, decoder.run(outputs, feeds)))
            # The cross-attention cache (".encoder.") of the first run is the one every later run reads.
            past = {name: (past[name] if ".encoder." in name and not first
                           else result[name.replace("past_key_values.", "present.")]) for name in past}
            first = False
            token = pick(result["logits"][0, -1], answer)
            if token in req["eos"] or len(answer["tokens"]) >= req["max_new_tokens"]:
                break
        cases.append(answer)
    return {"cases": cases}


MODES = {"convert": lambda r: convert(r["files"]), "causal": causal, "seq2seq": seq2seq}
print(json.dumps(MODES[request["mode"]](request)))
