"""Validation of an optimum export: the inputs the model's modality needs, made by its own preprocessors (tokenizer,
image processor, feature extractor), run through the PyTorch model and ONNX Runtime, outputs compared."""
import os
import shutil

from .common import max_abs_diff, ort_session
from .events import conversion, missing, usage, warning

DEFAULT_TEXTS = ["modelctl exports this model to ONNX.", "A second, longer sentence checks that padding works too."]
TEXT_INPUTS = {"input_ids", "attention_mask", "token_type_ids"}
IMAGE_INPUTS = {"pixel_values", "pixel_mask"}
AUDIO_INPUTS = {"input_values", "input_features"}
# ONNX element types of the inputs optimum writes.
NUMPY_TYPES = {"tensor(int64)": "int64", "tensor(int32)": "int32", "tensor(float)": "float32", "tensor(float16)": "float16",
               "tensor(bool)": "bool"}
# config.json names of a model's number of positions (GPT-2: n_positions), in the order transformers reads them.
POSITION_KEYS = ("max_position_embeddings", "n_positions", "n_ctx", "seq_length")
# What a folder's preprocessors are saved as; optimum saves them beside model.onnx when it can load them.
PROCESSOR_FILES = ("preprocessor_config.json", "processor_config.json")


def _texts(samples):
    if samples is None:
        return DEFAULT_TEXTS
    if isinstance(samples, str):
        return [samples]
    if isinstance(samples, list) and samples and all(isinstance(t, str) for t in samples):
        return samples
    raise usage("--sample-input for a text model: a JSON list of strings")


def _images(samples, size_hint):
    """The given image files, else synthetic photos-alike of odd sizes and aspect ratios (smooth gradients, a disc,
    noise): what a resize and normalisation see on real pictures, without shipping any."""
    import numpy as np
    from PIL import Image

    if samples is not None:
        if not (isinstance(samples, list) and samples and all(isinstance(p, str) for p in samples)):
            raise usage("--sample-input for an image model: a JSON list of image file paths")
        try:
            return [Image.open(p).convert("RGB") for p in samples]
        except OSError as e:
            raise usage(f"--sample-input: {e}") from e
    rng = np.random.default_rng(0)
    out = []
    for w, h in ((size_hint + 37, size_hint * 2 - 5), (size_hint * 3, size_hint + 11), (53, 29)):
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        r = 255 * x / max(w - 1, 1)
        g = 255 * y / max(h - 1, 1)
        b = np.where((x - w / 3) ** 2 + (y - h / 2) ** 2 < (min(w, h) / 4) ** 2, 230.0, 40.0)
        pixels = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, size=(h, w, 3))
        out.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB"))
    return out


def _read_wav(path, rate):
    """A PCM WAV file (Python's wave module: 8-bit unsigned, 16/24/32-bit signed) as mono floats, scaled as ffmpeg
    scales integers and its channels averaged, as modelctl's predict reads it. The file must be at `rate`: the check
    compares the two models on the same waveform, and resampling belongs to predict, not to the check."""
    import wave

    import numpy as np

    try:
        with wave.open(path, "rb") as w:
            channels, width, file_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (OSError, EOFError, wave.Error) as e:
        raise usage(f"--sample-input: {path} is not a PCM WAV file Python's wave module reads ({e})") from e
    if file_rate != rate:
        raise usage(f"--sample-input: {path} is at {file_rate} Hz; the feature extractor takes {rate} Hz (give files at that rate)")
    if width == 1:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128) / 128
    elif width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        x = ((b[:, 0] << 8) | (b[:, 1] << 16) | (b[:, 2] << 24)).astype(np.float64) / 2 ** 31
    else:
        x = np.frombuffer(raw, dtype=f"<i{width}").astype(np.float64) / 2 ** (8 * width - 1)
    return x.reshape(-1, channels).mean(axis=1).astype(np.float32)


def _waveforms(samples, rate):
    """The given waveforms (.npy, .json: one list or a list of lists, at the extractor's rate, or a list of WAV file
    paths), else a chirp with noise (1 s) and a two-tone burst (0.6 s): different lengths, so padding and its
    attention mask are checked."""
    import numpy as np

    if isinstance(samples, list) and samples and all(isinstance(p, str) for p in samples):
        return [_read_wav(p, rate) for p in samples]
    if samples is not None:
        nested = isinstance(samples, list) and samples and isinstance(samples[0], list)
        rows = samples if nested or (isinstance(samples, np.ndarray) and samples.ndim == 2) else [samples]
        try:
            waves = [np.asarray(r, dtype=np.float32).reshape(-1) for r in rows]
        except (TypeError, ValueError) as e:
            raise usage(f"--sample-input for an audio model: waveforms of numbers, or WAV file paths ({e})") from e
        if not waves or any(w.size == 0 for w in waves):
            raise usage("--sample-input for an audio model: an empty waveform (give at least one sample per waveform)")
        return waves
    rng = np.random.default_rng(0)
    t1 = np.arange(rate) / rate
    t2 = np.arange(int(rate * 0.6)) / rate
    chirp = 0.5 * np.sin(2 * np.pi * (200 + 600 * t1) * t1) + rng.normal(0, 0.02, t1.size)
    tones = 0.3 * np.sin(2 * np.pi * 440 * t2) + 0.2 * np.sin(2 * np.pi * 1250 * t2)
    return [chirp.astype(np.float32), tones.astype(np.float32)]


def max_positions(config, tokenizer=None):
    """The fewest positions the model and its tokenizer allow (None when neither says): a tokenizer without a
    model_max_length of its own (transformers writes 1e30) would otherwise let a long sample run past the model's
    position embeddings."""
    limits = [getattr(config, k, None) for k in POSITION_KEYS] if config is not None else []
    if tokenizer is not None:
        limits.append(getattr(tokenizer, "model_max_length", None))
    limits = [n for n in limits if isinstance(n, int) and 0 < n < 1_000_000]
    return min(limits) if limits else None


def _config(source, trust_remote_code):
    try:
        import transformers

        return transformers.AutoConfig.from_pretrained(source, trust_remote_code=trust_remote_code)
    except Exception:  # the model's own loader reports a broken config; the limit is only a refinement
        return None


def _load(kind, source, trust_remote_code):
    import transformers

    loader = getattr(transformers, kind)
    try:
        return loader.from_pretrained(source, trust_remote_code=trust_remote_code)
    except ImportError as e:
        # transformers' message spans lines; the error is one.
        raise missing("PIL" if "PIL" in str(e) else kind, "hf", " ".join(str(e).split())) from e
    except Exception as e:
        raise conversion(f"validation: cannot load the {kind[4:]} of {source} ({type(e).__name__}: {e})") from e


def sample_batches(source, names, samples, trust_remote_code):
    """[(feeds, count)]: the model's inputs from its own preprocessors. A tokenizer without a pad token (GPT-2)
    cannot pad a batch, so its texts go one at a time rather than with a pad token made up for the check; waveforms
    go one at a time too."""
    wanted = set(names)
    enc = {}
    batches = None
    if wanted & IMAGE_INPUTS:
        processor = _load("AutoImageProcessor", source, trust_remote_code)
        size = getattr(processor, "size", None) or {}
        hint = int(size.get("height") or size.get("shortest_edge") or 224) if isinstance(size, dict) else 224
        # Channels last said outright: a 1x1 or 3-pixel-wide image leaves the processor's guess ambiguous.
        enc.update(processor(images=_images(samples, hint), return_tensors="np", input_data_format="channels_last"))
    if wanted & AUDIO_INPUTS:
        extractor = _load("AutoFeatureExtractor", source, trust_remote_code)
        rate = getattr(extractor, "sampling_rate", 16000)
        kwargs = {"return_attention_mask": True} if "attention_mask" in wanted else {}
        waves = _waveforms(samples, rate)
        if "input_ids" not in wanted:
            # One waveform per run, unpadded, as transformers' audio pipelines and modelctl's predict run them: a
            # padded batch is not what a model without an attention mask (Wav2Vec2 base) is given, and the long run
            # of padding moves its outputs by more than the tolerance (3e-4 seen on a random Wav2Vec2 classifier).
            return [dict(extractor([w], sampling_rate=rate, return_tensors="np", **kwargs)) for w in waves]
        enc.update(extractor(waves, sampling_rate=rate, padding=True, return_tensors="np", **kwargs))
    if "input_ids" in wanted:
        tokenizer = _load("AutoTokenizer", source, trust_remote_code)
        limit = max_positions(_config(source, trust_remote_code), tokenizer)
        cut = {"truncation": True, "max_length": limit} if limit else {"truncation": True}
        texts = _texts(None if enc else samples)
        if enc:
            texts = (texts * len(next(iter(enc.values()))))[: len(next(iter(enc.values())))]
        if tokenizer.pad_token is None and len(texts) > 1:
            if enc:
                raise conversion("validation: the tokenizer has no pad token, so it cannot pair texts with a batch of images or audio")
            batches = [dict(tokenizer([t], return_tensors="np", **cut)) for t in texts]
        else:
            enc.update(tokenizer(texts, padding=True, return_tensors="np", **cut))
    return batches if batches is not None else [dict(enc)]


def _complete(feeds, inputs):
    """Cast each feed to its ONNX type, and derive position_ids (causal LMs) from the attention mask as generate() does."""
    import numpy as np

    out = {}
    for i in inputs:
        value = feeds.get(i.name)
        if value is None and i.name == "position_ids" and "attention_mask" in feeds:
            mask = np.asarray(feeds["attention_mask"], dtype=np.int64)
            value = np.clip(np.cumsum(mask, axis=-1) - 1, 0, None)
        if value is None:
            continue
        out[i.name] = np.asarray(value).astype(NUMPY_TYPES.get(i.type, np.asarray(value).dtype))
    missing_inputs = [i.name for i in inputs if i.name not in out]
    if missing_inputs:
        raise conversion(f"validation: the model's preprocessors give no {', '.join(missing_inputs)} for the ONNX inputs")
    return out


def validate(onnx_path, model, source, samples, trust_remote_code):
    """Runs `model` (PyTorch, eval mode) and ONNX Runtime on the same preprocessed samples; the validation record."""
    import numpy as np
    import torch

    session = ort_session(onnx_path)
    inputs = session.get_inputs()
    names = [o.name for o in session.get_outputs()]
    seen = {n: ([], []) for n in names}
    count = 0
    for feeds in sample_batches(source, [i.name for i in inputs], samples, trust_remote_code):
        feeds = _complete(feeds, inputs)
        got = session.run(None, feeds)
        with torch.no_grad():
            ref = model(**{k: torch.from_numpy(v) for k, v in feeds.items()})
        for name, value in zip(names, got):
            if name in ref and torch.is_tensor(ref[name]):
                seen[name][0].append(ref[name].numpy().reshape(-1))
                seen[name][1].append(np.asarray(value).reshape(-1))
        count += len(next(iter(feeds.values())))
    outputs = {n: max_abs_diff(np.concatenate(a), np.concatenate(b)) for n, (a, b) in seen.items() if a}
    if not outputs:
        raise conversion(f"validation: none of the ONNX outputs ({', '.join(names)}) is an output of the model")
    return {"max_abs_diff": max(outputs.values()), "outputs": outputs, "samples": count}


def check_preprocessors(source, out_dir):
    """optimum saves a model's preprocessors only when it can load them, and says nothing when it cannot (an image
    processor without Pillow): predict would then refuse the export. The file is carried over with a warning."""
    if not os.path.isdir(source):
        return
    lost = [f for f in PROCESSOR_FILES if os.path.exists(os.path.join(source, f)) and not os.path.exists(os.path.join(out_dir, f))]
    if not lost:
        return
    try:
        import PIL  # noqa: F401

        why = "it could not load it"
    except ImportError:
        why = "Pillow is not installed, and transformers' image processors need it"
    for f in lost:
        shutil.copyfile(os.path.join(source, f), os.path.join(out_dir, f))
    warning(f"optimum did not save {', '.join(lost)} beside the ONNX model ({why}); copied it unchanged from {source}")
