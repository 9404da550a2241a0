"""Hugging Face Transformers -> optimum's ONNX exporter (optimum-onnx), the task inferred as optimum-cli does."""
import os

from .common import Converted, record, run_onnx, version_of
from .events import conversion, progress, require, usage

DEFAULT_TEXTS = ["modelctl exports this model to ONNX.", "A second, longer sentence checks that padding works too."]


def _texts(samples):
    if samples is None:
        return DEFAULT_TEXTS
    if isinstance(samples, str):
        return [samples]
    if isinstance(samples, list) and all(isinstance(t, str) for t in samples):
        return samples
    raise usage("--sample-input for a text model: a JSON list of strings")


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


def export_hf(args, out):
    require("torch", "hf")
    require("transformers", "hf")
    exporters = require("optimum.exporters.onnx", "hf")
    tasks = require("optimum.exporters.tasks", "hf")
    TasksManager = tasks.TasksManager
    task = args.task
    if task:
        # An unknown task is the user's mistake (exit 2), not a failed conversion.
        known = set(TasksManager.get_all_tasks())
        task = TasksManager.map_from_synonym(task)
        if task not in known and task.split("-with-past")[0] not in known:
            raise usage(f"optimum knows no task {args.task!r}; its tasks: {', '.join(sorted(known))}")
    if not task:
        task = _infer_task(args, TasksManager)
        progress("task", f"task inferred from the model: {task}")
    out_dir = os.path.dirname(out)
    progress("convert", f"optimum {version_of('optimum')} / optimum-onnx {version_of('optimum-onnx')}: {task}")
    try:
        exporters.main_export(
            args.source, output=out_dir, task=task, opset=args.opset, device="cpu",
            trust_remote_code=args.trust_remote_code, do_validation=False, no_post_process=False,
        )
    except Exception as e:
        raise conversion(f"optimum: {type(e).__name__}: {e}") from e
    if not os.path.exists(out):
        produced = sorted(f for f in os.listdir(out_dir) if f.endswith(".onnx"))
        raise conversion(f"optimum wrote {', '.join(produced) or 'no ONNX file'}, not one model.onnx: models split into several files are not supported yet")

    def check(onnx_path):
        import numpy as np
        import torch
        from transformers import AutoTokenizer

        texts = _texts(args.samples)
        tokenizer = AutoTokenizer.from_pretrained(args.source, trust_remote_code=args.trust_remote_code)
        model = TasksManager.get_model_from_task(task, args.source, framework="pt", trust_remote_code=args.trust_remote_code)
        model.eval()
        enc = tokenizer(texts, padding=True, truncation=True, return_tensors="np")
        session_inputs = [i.name for i in __import__("onnxruntime").InferenceSession(onnx_path, providers=["CPUExecutionProvider"]).get_inputs()]
        feeds = {name: enc[name].astype(np.int64) for name in session_inputs if name in enc}
        missing = [n for n in session_inputs if n not in feeds]
        if missing:
            raise conversion(f"validation: the tokenizer gives no {', '.join(missing)} for the ONNX inputs")
        names, got = run_onnx(onnx_path, feeds)
        with torch.no_grad():
            ref = model(**{k: torch.from_numpy(v) for k, v in feeds.items()})
        pairs = [(n, ref[n].numpy(), g) for n, g in zip(names, got) if n in ref]
        if not pairs:
            raise conversion(f"validation: none of the ONNX outputs ({', '.join(names)}) is an output of the model")
        return record(pairs, len(texts))

    return Converted(
        converter="optimum", converter_version=f"{version_of('optimum')}, optimum-onnx {version_of('optimum-onnx')}",
        framework="transformers", framework_version=version_of("transformers"), task=task, validate=check,
    )
