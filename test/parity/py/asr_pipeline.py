"""transformers pipeline("automatic-speech-recognition") on the PyTorch Whisper model an ONNX export was made from,
greedy (num_beams=1: the pipeline's own default is 5 beams), given the waveforms as arrays (the pipeline reads files
with ffmpeg, which this machine lacks; the WAV files are read as modelctl reads them, 16-bit integers / 32768).

Request: {"folder", "long": {"path", "seconds"} (optional: writes a WAV of fixtures/asr/build.py's signal),
"cases": [{"file", "language"?, "task"?, "max_new_tokens"?, "chunk_length_s"?, "stride_length_s"?,
"return_timestamps"?, "num_beams"? (default 1: greedy; the pipeline and generate() both search with it)}]}. With
return_timestamps, the pipeline and generate() run with return_timestamps=True (the prompt then has no <|notimestamps|>) and the answer's case has the pipeline's "chunks" too. Audio over 30 s without
chunk_length_s is read whole (long-form), and generate() runs with return_timestamps=True as the pipeline's does.
Answer: {"cases": [{"text": the pipeline's text, "chunks"?, "windows": [{"tokens", "language", "passes"}] the new
tokens generate() gives for each window the pipeline's chunk_iter cuts (the prompt left out, as generate returns them;
with timestamps, the seek loop's segments concatenated; "passes" how many times the seek loop decoded; "language" the
language of its prompt, given or detected by detect_language), "margin": the smallest gap between the best and
second-best processed score over every greedy step of every pass}]}.
"""
import importlib.util
import json
import os
import sys
import wave

import numpy as np
import torch
from transformers import pipeline
from transformers.pipelines.automatic_speech_recognition import chunk_iter
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def build_module():
    spec = importlib.util.spec_from_file_location("asr_build", os.path.join(ROOT, "fixtures", "asr", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(path):
    with wave.open(path, "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768


if "long" in request:
    build = build_module()
    build.write_wav(request["long"]["path"], build.signal(request["long"]["seconds"], 11))

asr = pipeline("automatic-speech-recognition", model=request["folder"], device="cpu")
model, extractor = asr.model, asr.feature_extractor
config = model.generation_config
lang_of = {v: k.strip("<|>") for k, v in config.lang_to_id.items()}
results = []
for case in request["cases"]:
    x = read(case["file"])
    kwargs = {"num_beams": case.get("num_beams") or 1}
    for key in ("language", "task", "max_new_tokens"):
        if case.get(key) is not None:
            kwargs[key] = case[key]
    chunking = {}
    if case.get("chunk_length_s"):
        chunking["chunk_length_s"] = case["chunk_length_s"]
        if case.get("stride_length_s") is not None:
            chunking["stride_length_s"] = case["stride_length_s"]
    stamps = bool(case.get("return_timestamps"))
    if stamps:
        chunking["return_timestamps"] = True
    answer = asr({"raw": x, "sampling_rate": extractor.sampling_rate}, generate_kwargs=kwargs, **chunking)
    text = answer["text"]
    if stamps:
        kwargs["return_timestamps"] = True
        chunking.pop("return_timestamps")
    elif not chunking and len(x) > extractor.n_samples:
        kwargs["return_timestamps"] = True

    if chunking:
        chunk = int(round(chunking["chunk_length_s"] * extractor.sampling_rate))
        stride_s = chunking.get("stride_length_s", chunking["chunk_length_s"] / 6)
        stride = int(round(stride_s * extractor.sampling_rate))
        pieces = [item["input_features"] for item in chunk_iter(x, extractor, chunk, stride, stride)]
    elif len(x) > extractor.n_samples:
        # The pipeline's long-form input: the whole log-mel, neither padded nor truncated to 30 s.
        pieces = [extractor(x, sampling_rate=extractor.sampling_rate, truncation=False, padding="longest",
                            return_tensors="pt").input_features]
    else:
        pieces = [extractor(x, sampling_rate=extractor.sampling_rate, return_tensors="pt").input_features]
    windows, margin = [], float("inf")
    for features in pieces:
        with torch.no_grad():
            out = model.generate(features, return_dict_in_generate=True, output_scores=True, **kwargs)
            language = case.get("language") or lang_of[int(model.detect_language(input_features=features)[0])]
        sequences = out["sequences"][0].tolist()
        # The prompt (<|startoftranscript|> <|lang|> [<|task|>] <|notimestamps|>), when generate() leaves it in.
        # Its length, as _retrieve_init_tokens builds it: a task token only when a task or a language is named.
        if sequences and sequences[0] == config.decoder_start_token_id:
            named = case.get("task") is not None or case.get("language") is not None
            sequences = sequences[3 + int(named) - int(stamps):]
        # With timestamps (or over 30 s) generate() returns the seek loop's segments, padded: the padding left out.
        segments = out.get("segments")
        if segments is not None:
            sequences = [t for s in segments[0] for t in s["tokens"].tolist()]
        windows.append({"tokens": sequences, "language": language,
                        "passes": len({id(s["result"]) for s in segments[0]}) if segments is not None else 1})
        results_of = [s["result"] for s in segments[0]] if segments is not None else [out]
        seen = set()
        for res in results_of:
            if id(res) in seen:
                continue
            seen.add(id(res))
            for step in res.get("scores") or []:
                step = step if step.dim() == 1 else step[0]
                top = torch.topk(step.float(), 2).values
                if torch.isfinite(top[1]):
                    margin = min(margin, float(top[0] - top[1]))
    result = {"text": text, "windows": windows, "margin": margin if margin != float("inf") else None}
    if stamps:
        result["chunks"] = [{"timestamp": list(c["timestamp"]), "text": c["text"]} for c in answer["chunks"]]
    results.append(result)
print(json.dumps({"cases": results}))
