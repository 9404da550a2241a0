"""Hugging Face Transformers -> optimum's ONNX exporter (optimum-onnx), the task inferred as optimum-cli does."""
import os

from .common import Converted, version_of
from .events import conversion, progress, require, usage
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

    check_preprocessors(args.source, out_dir)

    def check(onnx_path):
        model = TasksManager.get_model_from_task(task, args.source, framework="pt", trust_remote_code=args.trust_remote_code)
        model.eval()
        return validate(onnx_path, model, args.source, args.samples, args.trust_remote_code)

    return Converted(
        converter="optimum", converter_version=f"{version_of('optimum')}, optimum-onnx {version_of('optimum-onnx')}",
        framework="transformers", framework_version=version_of("transformers"), task=task, validate=check,
    )
