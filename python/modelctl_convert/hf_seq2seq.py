"""Encoder-decoder models (T5, BART, Marian...: text2text-generation, translation, summarization; Whisper:
automatic-speech-recognition; VisionEncoderDecoder: image-to-text), exported with the decoder's KV cache and validated the way generation runs them.

optimum-onnx 0.1.0 exports text2text-generation-with-past as encoder_model.onnx, decoder_model.onnx (first step),
decoder_with_past_model.onnx (later steps) and, in its post-processing, decoder_model_merged.onnx: both decoders in one
graph, an If on the use_cache_branch input choosing between them, their weights shared. modelctl keeps the encoder and
the merged decoder (half the bytes of three files) and registers them as one version; the two unmerged decoders are
removed. Validation runs each sample (a text; for Whisper, the log-mel features of a waveform as its feature extractor
computes them; for an image model, the pixel_values of a sample image as its image processor makes them) through both frameworks: the encoder (last_hidden_state), the merged decoder's
first step (use_cache_branch false: the decoder start token, empty self-attention past; logits, and the present.*
self- and cross-attention caches) and one cached step (use_cache_branch true, fed the cache the first step returned).
"""
import os

from .common import max_abs_diff, ort_session
from .events import conversion
from .hf_validate import _images, _load, _texts, _waveforms, max_positions

SEQ2SEQ_TASKS = ("text2text-generation", "translation", "summarization")
# optimum's tasks that export an encoder and a decoder with its cache (Whisper's encoder reads log-mel features, a
# VisionEncoderDecoder's pixel values).
SEQ2SEQ_EXPORTS = ("text2text-generation-with-past", "automatic-speech-recognition-with-past", "image-to-text-with-past")
ENCODER = "encoder_model.onnx"
MERGED = "decoder_model_merged.onnx"
UNMERGED = ("decoder_model.onnx", "decoder_with_past_model.onnx")


def seq2seq_task(task, model_dir, trust_remote_code):
    """optimum infers fill-mask for BART-like models (their ForConditionalGeneration class is also transformers' masked
    LM class, and comes first): an encoder-decoder model is exported for generation, as its architecture says."""
    if task != "fill-mask":
        return task
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model_dir, trust_remote_code=trust_remote_code)
    except Exception:
        return task
    arch = (getattr(config, "architectures", None) or [""])[0] or ""
    return "text2text-generation" if config.is_encoder_decoder and arch.endswith("ForConditionalGeneration") else task


def keep_parts(out_dir):
    """Leaves the encoder and the merged decoder in out_dir; returns their names by role."""
    produced = sorted(f for f in os.listdir(out_dir) if f.endswith(".onnx"))
    if ENCODER not in produced or MERGED not in produced:
        raise conversion(f"optimum wrote {', '.join(produced) or 'no ONNX file'}: modelctl runs an encoder-decoder model "
                         f"as {ENCODER} plus {MERGED} (optimum's post-processing merges the decoders; it did not here)")
    for name in UNMERGED:
        if name in produced:
            os.remove(os.path.join(out_dir, name))
            data = os.path.join(out_dir, name + "_data")
            if os.path.exists(data):
                os.remove(data)
    return {"encoder": ENCODER, "decoder": MERGED}


def _legacy(cache):
    """[(self key, self value, cross key, cross value)] per layer, from a Cache object or the legacy tuples."""
    if hasattr(cache, "self_attention_cache") and hasattr(cache, "cross_attention_cache"):
        out = []
        for i in range(len(cache.self_attention_cache.layers) if hasattr(cache.self_attention_cache, "layers") else len(cache.self_attention_cache)):
            sk, sv = _kv(cache.self_attention_cache, i)
            ck, cv = _kv(cache.cross_attention_cache, i)
            out.append((sk, sv, ck, cv))
        return out
    if hasattr(cache, "to_legacy_cache"):
        return cache.to_legacy_cache()
    return cache


def _kv(cache, i):
    if hasattr(cache, "layers"):
        return cache.layers[i].keys, cache.layers[i].values
    return cache[i][0], cache[i][1]


def _parts(past_names):
    """The cache parts of each layer, in the order of _legacy's tuples: self- and cross-attention keys and values, or
    (a GPT-2 decoder of a VisionEncoderDecoder, which recomputes cross-attention each step) self-attention only."""
    if any(".encoder." in n for n in past_names):
        return ("decoder.key", "decoder.value", "encoder.key", "encoder.value")
    return ("key", "value")


def _encoder_samples(encoder, model, source, samples, trust_remote_code):
    """(the encoder's feeds, the encoder attention mask or None) per sample: a speech encoder (input_features) gets
    the log-mel features of the sample waveforms, an image encoder (pixel_values) the processed sample images, a
    text encoder the tokens of the sample texts (empty ones skipped)."""
    import numpy as np

    if "pixel_values" in {i.name for i in encoder.get_inputs()}:
        processor = _load("AutoImageProcessor", source, trust_remote_code)
        size = getattr(processor, "size", None) or {}
        hint = int(size.get("height") or size.get("shortest_edge") or 224) if isinstance(size, dict) else 224
        for image in _images(samples, hint):
            pixels = processor(images=image, return_tensors="np", input_data_format="channels_last")["pixel_values"]
            yield {"pixel_values": pixels.astype(np.float32)}, None
        return
    if "input_features" in {i.name for i in encoder.get_inputs()}:
        extractor = _load("AutoFeatureExtractor", source, trust_remote_code)
        for wave in _waveforms(samples, extractor.sampling_rate):
            features = extractor(wave, sampling_rate=extractor.sampling_rate, return_tensors="np")["input_features"]
            yield {"input_features": features.astype(np.float32)}, None
        return
    tokenizer = _load("AutoTokenizer", source, trust_remote_code)
    limit = max_positions(model.config, tokenizer)
    for text in _texts(samples):
        kwargs = {"truncation": True, "max_length": limit} if limit else {}
        ids = tokenizer(text, return_tensors="np", **kwargs)["input_ids"].astype(np.int64)
        if ids.shape[1] > 0:
            yield {"input_ids": ids, "attention_mask": np.ones_like(ids)}, np.ones_like(ids)


def validate_seq2seq(out_dir, model, source, samples, trust_remote_code):
    """The validation record: encoder, decoder first step and cached step of ONNX Runtime against PyTorch."""
    import numpy as np
    import torch

    encoder = ort_session(os.path.join(out_dir, ENCODER))
    decoder = ort_session(os.path.join(out_dir, MERGED))
    dec_inputs = {i.name: i for i in decoder.get_inputs()}
    out_names = [o.name for o in decoder.get_outputs()]
    past_names = [n for n in dec_inputs if n.startswith("past_key_values.")]
    if "use_cache_branch" not in dec_inputs or not past_names:
        raise conversion(f"validation: {MERGED} has no use_cache_branch or past_key_values inputs")
    layers = len({n.split(".")[1] for n in past_names})
    parts = _parts(past_names)
    own = parts[:2]  # the self-attention cache, the one that grows
    start = model.generation_config.decoder_start_token_id
    if start is None:
        start = model.config.decoder_start_token_id
    if isinstance(start, list):
        start = start[0]
    if start is None:
        raise conversion("validation: the model names no decoder_start_token_id (generation_config.json or config.json)")
    seen = {}
    steps = {"encoder": ([], []), "decoder_first_step": ([], []), "decoder_cached_step": ([], [])}

    def collect(step, name, ref, got):
        a, b = np.asarray(ref).reshape(-1), np.asarray(got).reshape(-1)
        seen.setdefault(name, ([], []))
        seen[name][0].append(a)
        seen[name][1].append(b)
        steps[step][0].append(a)
        steps[step][1].append(b)

    count = 0
    for feeds, mask in _encoder_samples(encoder, model, source, samples, trust_remote_code):
        (hidden,) = encoder.run(None, feeds)
        with torch.no_grad():
            ref_enc = model.get_encoder()(**{k: torch.from_numpy(v) for k, v in feeds.items()})
        collect("encoder", "encoder.last_hidden_state", ref_enc.last_hidden_state.numpy(), hidden)
        torch_mask = {} if mask is None else {"attention_mask": torch.from_numpy(mask)}
        onnx_mask = {"encoder_attention_mask": mask} if "encoder_attention_mask" in dec_inputs else {}

        first = np.array([[start]], np.int64)
        feeds = {**onnx_mask, "input_ids": first, "encoder_hidden_states": hidden, "use_cache_branch": np.array([False])}
        for name in past_names:
            shape = dec_inputs[name].shape
            feeds[name] = np.zeros((1, shape[1], 0, shape[3]), np.float32)
        got = dict(zip(out_names, decoder.run(None, feeds)))
        with torch.no_grad():
            ref = model(encoder_outputs=(ref_enc.last_hidden_state,), **torch_mask,
                        decoder_input_ids=torch.from_numpy(first), use_cache=True)
        collect("decoder_first_step", "logits", ref.logits.numpy(), got["logits"])
        for i, ref_t in zip(range(layers), _legacy(ref.past_key_values)):
            for part, r in zip(parts, ref_t):
                collect("decoder_first_step", f"present.{i}.{part}", r.numpy(), got[f"present.{i}.{part}"])

        nxt = np.array([[int(np.argmax(got["logits"][0, -1]))]], np.int64)
        feeds = {**onnx_mask, "input_ids": nxt, "encoder_hidden_states": hidden, "use_cache_branch": np.array([True])}
        for name in past_names:
            feeds[name] = got["present." + name[len("past_key_values."):]]
        got2 = dict(zip(out_names, decoder.run(None, feeds)))
        with torch.no_grad():
            ref2 = model(encoder_outputs=(ref_enc.last_hidden_state,), **torch_mask,
                         decoder_input_ids=torch.from_numpy(nxt), past_key_values=ref.past_key_values, use_cache=True)
        collect("decoder_cached_step", "logits", ref2.logits.numpy(), got2["logits"])
        for i, ref_t in zip(range(layers), _legacy(ref2.past_key_values)):
            for part, r in zip(own, ref_t[:2]):
                collect("decoder_cached_step", f"present.{i}.{part}", r.numpy(), got2[f"present.{i}.{part}"])
        count += 1
    if count == 0:
        raise conversion("validation: no sample gave any encoder input (every text was empty of tokens)")
    outputs = {n: max_abs_diff(np.concatenate(a), np.concatenate(b)) for n, (a, b) in seen.items()}
    return {"max_abs_diff": max(outputs.values()), "outputs": outputs, "samples": count,
            "steps": {k: max_abs_diff(np.concatenate(a), np.concatenate(b)) for k, (a, b) in steps.items()}}
