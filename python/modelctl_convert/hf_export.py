"""Hugging Face Transformers -> optimum's ONNX exporter (optimum-onnx), the task inferred as optimum-cli does."""
import json
import os
import shutil

from .common import Converted, version_of
from .events import conversion, progress, require, usage, warning
from .hf_decoder import carry_generation_files, validate_decoder, wants_past
from .hf_seq2seq import SEQ2SEQ_EXPORTS, SEQ2SEQ_TASKS, keep_parts, seq2seq_task, validate_seq2seq
from .hf_validate import check_preprocessors, validate


def _infer_task(args, TasksManager):
    """As optimum-cli does: from the model id, else (a local folder) from config.json's architecture class."""
    try:
        return TasksManager.infer_task_from_model(args.source)
    except Exception as first:
        transformers = require("transformers", "hf")
        try:
            config = transformers.AutoConfig.from_pretrained(args.source, trust_remote_code=args.trust_remote_code)
            arch = (getattr(config, "architectures", None) or [None])[0]
            if arch is None or not hasattr(transformers, arch):
                raise ValueError(f"config.json names no known architecture ({arch})")
            return TasksManager.infer_task_from_model(getattr(transformers, arch))
        except Exception as e:
            raise usage(f"cannot infer the task of {args.source} ({e}; {str(first)[:120]}): pass --task") from e


# What a sentence-transformers folder holds besides the transformer (read by modelctl's predict: pooling,
# normalisation, truncation length). Only JSON configs: modules with weights of their own (Dense) are not exported.
ST_ROOT_FILES = ("modules.json", "config_sentence_transformers.json")
ST_MARKERS = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")


def _sentence_transformers(source):
    """For a sentence-transformers folder: (the transformer module's folder, modules.json's list); else None.

    Such a folder is exported as the plain transformers model it wraps (library "transformers"): the ONNX gives
    last_hidden_state, and modelctl pools and normalises as modules.json says. optimum would otherwise infer the
    library sentence_transformers, which needs that package (not in the managed environment) to load the model.
    """
    if not os.path.isdir(source) or not any(os.path.exists(os.path.join(source, f)) for f in ST_MARKERS):
        return None
    modules = []
    path = os.path.join(source, "modules.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            modules = json.load(f)
    if not isinstance(modules, list):
        raise usage(f"{path}: a list of modules expected")
    transformer = next((m for m in modules if isinstance(m, dict) and str(m.get("type", "")).endswith(".Transformer")), None)
    sub = (transformer or {}).get("path") or ""
    if not isinstance(sub, str) or os.path.isabs(sub) or ".." in sub.replace("\\", "/").split("/"):
        raise usage(f"{path}: the Transformer module's path {sub!r} leaves the folder")
    return os.path.normpath(os.path.join(source, sub)), modules


def _carry_sentence_transformers(source, model_dir, modules, out_dir):
    """modules.json, the configs and each module's config.json go beside model.onnx, under the same paths."""
    for name in ST_ROOT_FILES:
        if os.path.exists(os.path.join(source, name)):
            shutil.copyfile(os.path.join(source, name), os.path.join(out_dir, name))
    for folder in (model_dir, source):
        if os.path.exists(os.path.join(folder, "sentence_bert_config.json")):
            shutil.copyfile(os.path.join(folder, "sentence_bert_config.json"), os.path.join(out_dir, "sentence_bert_config.json"))
            break
    unsupported = []
    for m in modules:
        if not isinstance(m, dict):
            continue
        kind = str(m.get("type", "")).rsplit(".", 1)[-1]
        sub = m.get("path") or ""
        if kind not in ("Transformer", "Pooling", "Normalize"):
            unsupported.append(kind or "?")
        if kind == "Transformer" or not sub or os.path.isabs(sub) or ".." in sub.replace("\\", "/").split("/"):
            continue
        config = os.path.join(source, sub, "config.json")
        if os.path.exists(config):
            os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
            shutil.copyfile(config, os.path.join(out_dir, sub, "config.json"))
    if unsupported:
        warning(f"modules.json lists {', '.join(unsupported)}: only the transformer is exported, and modelctl's predict "
                "follows Pooling and Normalize only (it refuses feature extraction for this model)")


def export_hf(args, out):
    require("torch", "hf")
    require("transformers", "hf")
    exporters = require("optimum.exporters.onnx", "hf")
    tasks = require("optimum.exporters.tasks", "hf")
    TasksManager = tasks.TasksManager
    st = _sentence_transformers(args.source)
    model_dir, library = (st[0], "transformers") if st else (args.source, None)
    task = args.task
    # translation and summarization are optimum's synonyms of text2text-generation: the word asked for is registered.
    asked = task if task in SEQ2SEQ_TASKS else None
    if task:
        # An unknown task is the user's mistake (exit 2), not a failed conversion.
        known = set(TasksManager.get_all_tasks())
        task = TasksManager.map_from_synonym(task)
        if task not in known and task.split("-with-past")[0] not in known:
            raise usage(f"optimum knows no task {args.task!r}; its tasks: {', '.join(sorted(known))}")
    if not task and st:
        task = "feature-extraction"
        progress("task", "sentence-transformers folder: feature-extraction of the transformer it wraps, pooled by modelctl")
    if not task:
        task = seq2seq_task(_infer_task(args, TasksManager), model_dir, args.trust_remote_code)
        progress("task", f"task inferred from the model: {task}")
    # A causal LM is exported with its KV cache (one decoder taking past_key_values) and registered as text-generation.
    # An encoder-decoder model likewise: the encoder plus one merged decoder with its cache, as text2text-generation.
    # A speech recognizer (Whisper) too: its encoder reads log-mel features, and it is registered as
    # automatic-speech-recognition.
    if task in ("text-generation-with-past", *SEQ2SEQ_EXPORTS):
        export_task, task = task, task[: -len("-with-past")]
    else:
        export_task = wants_past(task, model_dir, args.trust_remote_code)
    seq2seq = export_task in SEQ2SEQ_EXPORTS
    if seq2seq and asked:
        task = asked
    out_dir = os.path.dirname(out)
    progress("convert", f"optimum {version_of('optimum')} / optimum-onnx {version_of('optimum-onnx')}: {export_task}")
    try:
        exporters.main_export(
            model_dir, output=out_dir, task=export_task, opset=args.opset, device="cpu", library_name=library,
            trust_remote_code=args.trust_remote_code, do_validation=False, no_post_process=False,
        )
    except Exception as e:
        raise conversion(f"optimum: {type(e).__name__}: {e}") from e
    parts = keep_parts(out_dir) if seq2seq else None
    if not parts and not os.path.exists(out):
        produced = sorted(f for f in os.listdir(out_dir) if f.endswith(".onnx"))
        raise conversion(f"optimum wrote {', '.join(produced) or 'no ONNX file'}, not one model.onnx: models split into several files are not supported yet")
    if st:
        _carry_sentence_transformers(args.source, model_dir, st[1], out_dir)
    if export_task == "text-generation-with-past" or seq2seq:
        carry_generation_files(model_dir, out_dir)

    check_preprocessors(model_dir, out_dir)

    def check(onnx_path):
        # Loaded as the export loaded it (a sentence-transformers folder as plain transformers).
        model = TasksManager.get_model_from_task(
            export_task, model_dir, framework="pt", trust_remote_code=args.trust_remote_code, library_name=library
        )
        model.eval()
        if export_task == "text-generation-with-past":
            return validate_decoder(onnx_path, model, model_dir, args.samples, args.trust_remote_code)
        if seq2seq:
            return validate_seq2seq(out_dir, model, model_dir, args.samples, args.trust_remote_code)
        return validate(onnx_path, model, model_dir, args.samples, args.trust_remote_code)

    return Converted(
        converter="optimum", converter_version=f"{version_of('optimum')}, optimum-onnx {version_of('optimum-onnx')}",
        framework="transformers", framework_version=version_of("transformers"), task=task, validate=check,
        extra={"onnx_parts": parts} if parts else {},
    )
