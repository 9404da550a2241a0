"""Decoder-only language models (text-generation): exported with their KV cache, validated the way generation runs.

optimum-onnx 0.1.0 exports text-generation-with-past as one model.onnx: input_ids, attention_mask, position_ids and
past_key_values.N.key/value in, logits and present.N.key/value out; an empty past (length 0) serves the first run,
so no separate decoder without past (nor a merged one with a use_cache_branch switch) is needed. Validation runs
each sample prompt twice through both frameworks: the prompt with an empty past, then one greedy step fed the
cache the first run returned; logits and cache tensors are compared at both steps.
"""
import os

from .common import max_abs_diff, ort_session
from .events import conversion
from .hf_validate import _load, _texts, max_positions

# Beside model.onnx, what generation needs; optimum copies the first two, the template file is carried here.
CHAT_TEMPLATE_FILES = ("chat_template.jinja", "chat_template.json")


def wants_past(task, model_dir, trust_remote_code):
    """text-generation, text2text-generation, automatic-speech-recognition and image-to-text become TASK-with-past
    when optimum can export the model's cache (for speech recognition: Whisper, an encoder-decoder; CTC models have
    no cache)."""
    if task not in ("text-generation", "text2text-generation", "automatic-speech-recognition", "image-to-text"):
        return task
    import optimum.exporters.onnx.model_configs  # noqa: F401 - registers the model types optimum-onnx exports
    from optimum.exporters.tasks import TasksManager
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
        supported = TasksManager.get_supported_tasks_for_model_type(config.model_type, exporter="onnx", library_name="transformers")
    except Exception:  # an unknown model type: optimum itself will say so, for the task as given
        return task
    return f"{task}-with-past" if f"{task}-with-past" in supported else task


def carry_generation_files(model_dir, out_dir):
    """The chat template file, when optimum left it behind (it copies tokenizer and generation configs only); and the
    template also written into tokenizer_config.json's chat_template (where transformers before 4.43 kept it, and
    still reads it), because that file is embedded into model.onnx's metadata: the ONNX file alone can then chat."""
    import json
    import shutil

    if not os.path.isdir(model_dir):
        return
    for name in CHAT_TEMPLATE_FILES:
        src = os.path.join(model_dir, name)
        if os.path.exists(src) and not os.path.exists(os.path.join(out_dir, name)):
            shutil.copyfile(src, os.path.join(out_dir, name))
    config_path = os.path.join(out_dir, "tokenizer_config.json")
    template = None
    if os.path.exists(os.path.join(out_dir, "chat_template.jinja")):
        with open(os.path.join(out_dir, "chat_template.jinja"), encoding="utf-8") as f:
            template = f.read()
    elif os.path.exists(os.path.join(out_dir, "chat_template.json")):
        with open(os.path.join(out_dir, "chat_template.json"), encoding="utf-8") as f:
            template = json.load(f).get("chat_template")
    if template is None or not os.path.exists(config_path):
        return
    with open(config_path, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("chat_template") is None:
        config["chat_template"] = template
        with open(config_path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
            f.write("\n")


def _legacy(cache):
    return cache.to_legacy_cache() if hasattr(cache, "to_legacy_cache") else cache


def validate_decoder(onnx_path, model, source, samples, trust_remote_code):
    """The validation record: logits and present.* of ONNX Runtime against PyTorch, prompt then one cached step."""
    import numpy as np
    import torch

    session = ort_session(onnx_path)
    inputs = {i.name: i for i in session.get_inputs()}
    out_names = [o.name for o in session.get_outputs()]
    past_names = sorted((n for n in inputs if n.startswith("past_key_values.")), key=lambda n: (int(n.split(".")[1]), n.split(".")[2]))
    if not past_names:
        raise conversion("validation: the text-generation export has no past_key_values inputs")
    tokenizer = _load("AutoTokenizer", source, trust_remote_code)
    limit = max_positions(model.config, tokenizer)
    seen = {n: ([], []) for n in out_names}
    steps = {"prompt": ([], []), "cached_step": ([], [])}
    count = 0
    for text in _texts(samples):
        # The prompt leaves one position for the cached step.
        kwargs = {"truncation": True, "max_length": limit - 1} if limit else {}
        ids = tokenizer(text, return_tensors="np", **kwargs)["input_ids"].astype(np.int64)
        if ids.shape[1] == 0:
            continue
        n = ids.shape[1]
        with torch.no_grad():
            ref = model(input_ids=torch.from_numpy(ids), attention_mask=torch.ones(1, n, dtype=torch.long), use_cache=True)
        ref_past = [t.numpy() for layer in _legacy(ref.past_key_values) for t in layer[:2]]
        ref_logits = ref.logits.numpy()
        feeds = {"input_ids": ids, "attention_mask": np.ones((1, n), np.int64)}
        if "position_ids" in inputs:
            feeds["position_ids"] = np.arange(n, dtype=np.int64)[None]
        for name in past_names:
            shape = inputs[name].shape
            feeds[name] = np.zeros((1, shape[1], 0, shape[3]), np.float32)
        got = dict(zip(out_names, session.run(None, feeds)))
        _collect(seen, steps["prompt"], got, ref_logits, ref_past, past_names)

        nxt = np.array([[int(np.argmax(got["logits"][0, -1]))]], np.int64)
        with torch.no_grad():
            ref2 = model(input_ids=torch.from_numpy(nxt), attention_mask=torch.ones(1, n + 1, dtype=torch.long),
                         position_ids=torch.tensor([[n]]), past_key_values=ref.past_key_values, use_cache=True)
        feeds = {"input_ids": nxt, "attention_mask": np.ones((1, n + 1), np.int64)}
        if "position_ids" in inputs:
            feeds["position_ids"] = np.array([[n]], np.int64)
        for name in past_names:
            feeds[name] = got["present." + name[len("past_key_values."):]]
        got2 = dict(zip(out_names, session.run(None, feeds)))
        _collect(seen, steps["cached_step"], got2, ref2.logits.numpy(), [t.numpy() for layer in _legacy(ref2.past_key_values) for t in layer[:2]], past_names)
        count += 1
    if count == 0:
        raise conversion("validation: no sample text gave any token")
    outputs = {n: max_abs_diff(np.concatenate(a), np.concatenate(b)) for n, (a, b) in seen.items() if a}
    return {"max_abs_diff": max(outputs.values()), "outputs": outputs, "samples": count,
            "steps": {k: max_abs_diff(np.concatenate(a), np.concatenate(b)) for k, (a, b) in steps.items()}}


def _collect(seen, step, got, ref_logits, ref_past, past_names):
    pairs = [("logits", ref_logits)] + [("present." + n[len("past_key_values."):], v) for n, v in zip(past_names, ref_past)]
    for name, ref in pairs:
        if name not in got:
            raise conversion(f"validation: the export gives no {name}")
        seen[name][0].append(ref.reshape(-1))
        seen[name][1].append(got[name].reshape(-1))
        step[0].append(ref.reshape(-1))
        step[1].append(got[name].reshape(-1))
