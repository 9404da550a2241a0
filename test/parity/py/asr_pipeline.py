"""transformers pipeline("automatic-speech-recognition") on the PyTorch Whisper model an ONNX export was made from,
greedy (num_beams=1: the pipeline's own default is 5 beams), given the waveforms as arrays (the pipeline reads files
with ffmpeg, which this machine lacks; the WAV files are read as modelctl reads them, 16-bit integers / 32768).

Request: {"folder", "long": {"path", "seconds"} (optional: writes a WAV of fixtures/asr/build.py's signal),
"cases": [{"file", "language"?, "task"?, "max_new_tokens"?, "chunk_length_s"?, "stride_length_s"?,
"return_timestamps"?, "num_beams"? (default 1: greedy; the pipeline, generate() and the single pass all search with
it)}]}. With return_timestamps, the pipeline and generate() run with return_timestamps=True (the
prompt then has no <|notimestamps|>) and the answer's case has the pipeline's "chunks" too, and "single_pass": per window
the new tokens of ONE GenerationMixin.generate() call on the window's prompt with WhisperTimeStampLogitsProcessor
after generate()'s own processors (Whisper's generate() seeks and decodes a window again when its timestamps end
before the window does, which modelctl does not do yet).
Answer: {"cases": [{"text": the pipeline's text, "windows": [{"tokens", "language"}] the new tokens generate() gives
for each window the pipeline's chunk_iter cuts (the prompt left out, as generate returns them; "language" the
language of its prompt, given or detected by detect_language), "margin": the smallest gap between the best and second-best processed score over
every greedy step}]}.
"""
import importlib.util
import json
import os
import sys
import wave

import numpy as np
import torch
from transformers import pipeline
from transformers.generation import GenerationMixin
from transformers.generation.logits_process import LogitsProcessorList, WhisperTimeStampLogitsProcessor
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

    if chunking:
        chunk = int(round(chunking["chunk_length_s"] * extractor.sampling_rate))
        stride_s = chunking.get("stride_length_s", chunking["chunk_length_s"] / 6)
        stride = int(round(stride_s * extractor.sampling_rate))
        pieces = [item["input_features"] for item in chunk_iter(x, extractor, chunk, stride, stride)]
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
        windows.append({"tokens": sequences, "language": language})
        if stamps:
            prompt = [config.decoder_start_token_id, config.lang_to_id[f"<|{language}|>"], config.task_to_id[case.get("task") or "transcribe"]]
            budget = case.get("max_new_tokens") or config.max_length - len(prompt)
            processor = WhisperTimeStampLogitsProcessor(config, begin_index=len(prompt))
            with torch.no_grad():
                one = GenerationMixin.generate(model, input_features=features, decoder_input_ids=torch.tensor([prompt]),
                                               logits_processor=LogitsProcessorList([processor]), num_beams=kwargs["num_beams"],
                                               do_sample=False, max_new_tokens=budget, return_dict_in_generate=True,
                                               output_scores=True)
            windows[-1]["single_pass"] = one.sequences[0].tolist()[len(prompt):]
            out = one
        for step in out["scores"] if out.get("scores") is not None else []:
            top = torch.topk(step[0].float(), 2).values
            if torch.isfinite(top[1]):
                margin = min(margin, float(top[0] - top[1]))
    result = {"text": text, "windows": windows, "margin": margin if margin != float("inf") else None}
    if stamps:
        result["chunks"] = [{"timestamp": list(c["timestamp"]), "text": c["text"]} for c in answer["chunks"]]
    results.append(result)
print(json.dumps({"cases": results}))
