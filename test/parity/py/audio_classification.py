"""transformers pipeline("audio-classification") on the PyTorch model an ONNX export was made from, given the
waveforms as arrays (the pipeline reads files with ffmpeg, which this machine lacks).

Request: {"folder", "files": [WAV paths]}. Each file is read by scipy.io.wavfile, scaled to floats as ffmpeg and
soundfile scale them (integers by 2^(bits-1), 8-bit unsigned around 128), its channels averaged. A file at another
rate than the feature extractor's is resampled with scipy.signal.resample_poly (a polyphase Kaiser-window filter:
another resampler than modelctl's, so only a looser agreement is expected) before the pipeline sees it. Answer:
{"results": [[{"label", "score"}, ... every label, best first] per file], "rates": [the file's rate],
"decoded": [the mono waveform as read], "waveforms": [the resampled waveform, or null when the file was at the
extractor's rate]}.
"""
import json
import sys
from math import gcd

import numpy as np
from scipy.io import wavfile
from scipy.signal import resample_poly
from transformers import pipeline
from transformers.utils import logging

logging.set_verbosity_error()
request = json.load(sys.stdin)
classify = pipeline("audio-classification", model=request["folder"], device="cpu")
target = classify.feature_extractor.sampling_rate


def read(path):
    rate, data = wavfile.read(path)
    if data.dtype == np.uint8:
        x = (data.astype(np.float64) - 128) / 128
    elif data.dtype.kind == "i":
        x = data.astype(np.float64) / float(2 ** (8 * data.dtype.itemsize - 1))
    else:
        x = data.astype(np.float64)
    if x.ndim == 2:
        x = x.mean(axis=1)
    return rate, x.astype(np.float32)


results, rates, decoded, waveforms = [], [], [], []
for path in request["files"]:
    rate, x = read(path)
    rates.append(rate)
    decoded.append(x.tolist())
    if rate != target:
        g = gcd(rate, target)
        x = resample_poly(x.astype(np.float64), target // g, rate // g).astype(np.float32)
        waveforms.append(x.tolist())
    else:
        waveforms.append(None)
    results.append(classify(x, top_k=None))
print(json.dumps({"results": results, "rates": rates, "decoded": decoded, "waveforms": waveforms}))
