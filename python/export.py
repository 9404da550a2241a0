"""modelctl's converter entry point, run by modelctl in a child process (see modelctl_convert/__init__.py).

    python export.py --framework sklearn --source model.joblib --out DIR/model.onnx [--opset N] [--atol 1e-4] ...
    python export.py --check sklearn,xgboost      one JSON line per family: usable, versions, error
"""
import argparse
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from modelctl_convert import events  # noqa: E402
from modelctl_convert.events import Failure, emit, progress  # noqa: E402

FAMILY_MODULES = {
    "sklearn": ["sklearn", "skl2onnx", "onnx", "onnxruntime"],
    "xgboost": ["xgboost", "onnxmltools", "skl2onnx", "onnx", "onnxruntime"],
    "lightgbm": ["lightgbm", "onnxmltools", "skl2onnx", "onnx", "onnxruntime"],
    "torch": ["torch", "onnx", "onnxruntime"],
    "hf": ["torch", "transformers", "optimum", "optimum.exporters.onnx", "onnx", "onnxruntime"],
    "tf": ["tensorflow", "keras", "tf2onnx", "onnx", "onnxruntime"],
}
DISTRIBUTIONS = {"sklearn": "scikit-learn", "optimum.exporters.onnx": "optimum-onnx", "tensorflow": "tensorflow-cpu", "xgboost": "xgboost-cpu"}


def check(families):
    import importlib
    from importlib.metadata import PackageNotFoundError, version

    for family in families:
        versions, error = {}, None
        for module in FAMILY_MODULES.get(family, []):
            try:
                mod = importlib.import_module(module)
            except Exception as e:
                error = f"cannot import {module}: {type(e).__name__}: {e}"
                break
            dist = DISTRIBUTIONS.get(module, module)
            try:
                versions[dist] = version(dist)
            except PackageNotFoundError:
                versions[dist] = str(getattr(mod, "__version__", "unknown"))
        emit("check", family=family, usable=error is None, versions=versions, error=error, python=sys.executable,
             python_version=sys.version.split()[0])


def parse(argv):
    p = argparse.ArgumentParser(prog="export.py")
    p.add_argument("--check")
    p.add_argument("--framework", choices=["sklearn", "xgboost", "lightgbm", "pytorch", "keras", "tf", "hf"])
    p.add_argument("--source")
    p.add_argument("--out")
    p.add_argument("--task")
    p.add_argument("--opset", type=int)
    p.add_argument("--atol", type=float, default=1e-4)
    p.add_argument("--no-validate", action="store_true")
    p.add_argument("--optimize", choices=["O1", "O2", "O3"])
    p.add_argument("--quantize", choices=["int8", "fp16"])
    p.add_argument("--sample-input")
    p.add_argument("--input-shape", action="append")
    p.add_argument("--model-class")
    p.add_argument("--trust-remote-code", action="store_true")
    return p.parse_args(argv)


def convert(args):
    from modelctl_convert import common

    args.samples = common.load_samples(args.sample_input) if args.sample_input else None
    if args.framework == "sklearn":
        from modelctl_convert.tabular import export_sklearn as fn
    elif args.framework == "xgboost":
        from modelctl_convert.tabular import export_xgboost as fn
    elif args.framework == "lightgbm":
        from modelctl_convert.tabular import export_lightgbm as fn
    elif args.framework == "pytorch":
        from modelctl_convert.torch_export import export_torch as fn
    elif args.framework in ("keras", "tf"):
        from modelctl_convert.keras_export import export_keras as fn
    else:
        from modelctl_convert.hf_export import export_hf as fn
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    converted = fn(args, args.out)
    # A model exported as several files (an encoder-decoder: onnx_parts by role, the first one primary) has each
    # file post-processed; the primary one stands for the model in the result.
    parts = converted.extra.get("onnx_parts") or {}
    files = [os.path.join(os.path.dirname(args.out), p) for p in parts.values()] or [args.out]
    primary = files[0]
    if args.optimize:
        progress("optimize", f"ONNX Runtime graph optimizations {args.optimize}")
        for f in files:
            common.optimize(f, args.optimize)
    if args.quantize:
        progress("quantize", f"quantizing to {args.quantize}")
        for f in files:
            common.quantize(f, args.quantize)
    validation = None
    if not args.no_validate:
        progress("validate", "running the source framework and ONNX Runtime on the same samples")
        validation = converted.validate(primary)
        validation["atol"] = args.atol
        validation["passed"] = validation["max_abs_diff"] <= args.atol and validation.get("labels_equal", True)
    result = dict(
        onnx=os.path.abspath(primary), converter=converted.converter, converter_version=converted.converter_version,
        framework=converted.framework, framework_version=converted.framework_version, task=converted.task,
        features=converted.features, opset=common.opset_of(primary), validation=validation, **converted.extra,
    )
    if validation and not validation["passed"]:
        why = "the predicted labels differ" if not validation.get("labels_equal", True) else f"max abs difference {validation['max_abs_diff']:.3g} is above --atol {args.atol:g}"
        raise Failure("validation", f"validation failed: {why}", events.EXIT_VALIDATION, result=result)
    emit("result", **result)


def main(argv):
    events.claim_stdout()
    try:
        args = parse(argv)
        if args.check:
            check([f for f in args.check.split(",") if f])
            return 0
        if not (args.framework and args.source and args.out):
            raise events.usage("--framework, --source and --out are required")
        convert(args)
        return 0
    except Failure as f:
        emit("error", kind=f.kind, message=str(f), **f.fields)
        return f.code
    except KeyboardInterrupt:
        return 130
    except BaseException as e:  # a converter's own bug: report it as a conversion failure, with its trace on stderr
        if isinstance(e, SystemExit):
            return e.code if isinstance(e.code, int) else 2
        traceback.print_exc()
        emit("error", kind="conversion", message=f"{type(e).__name__}: {e}")
        return events.EXIT_CONVERSION


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
