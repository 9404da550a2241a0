"""PyTorch nn.Module -> torch.onnx. Files are loaded with weights_only=True: a state_dict plus --model-class, or a
TorchScript archive; a file that pickles a whole module is refused (loading it would run its code)."""
import importlib.util
import os
import zipfile

from .common import Converted, record, run_onnx, version_of
from .events import conversion, progress, require, usage


def _is_torchscript(path):
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("/constants.pkl") or "/code/" in n for n in z.namelist())
    except zipfile.BadZipFile:
        return False


def _model_class(spec):
    """--model-class FILE.py:Class -> the class (constructed without arguments)."""
    if not spec or ":" not in spec:
        raise usage("this file holds a state_dict: say which module to build with --model-class FILE.py:ClassName")
    file, _, name = spec.rpartition(":")
    if not os.path.isfile(file):
        raise usage(f"--model-class: no such file {file}")
    module_spec = importlib.util.spec_from_file_location("modelctl_user_module", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, name):
        raise usage(f"--model-class: {file} defines no {name}")
    return getattr(module, name)


def load_module(args, torch):
    if _is_torchscript(args.source):
        progress("load", "TorchScript archive (torch.jit.load)")
        return torch.jit.load(args.source, map_location="cpu")
    try:
        obj = torch.load(args.source, map_location="cpu", weights_only=True)
    except Exception as e:
        raise conversion(
            f"torch.load(weights_only=True) refused {os.path.basename(args.source)}: it pickles more than tensors "
            f"({type(e).__name__}). Save the weights instead (torch.save(model.state_dict(), path)) and pass "
            "--model-class FILE.py:ClassName, or save TorchScript (torch.jit.save)"
        ) from e
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise conversion(f"{os.path.basename(args.source)} holds a {type(obj).__name__}, not a state_dict")
    cls = _model_class(args.model_class)
    module = cls()
    try:
        module.load_state_dict(obj)
    except Exception as e:
        raise conversion(f"{cls.__name__}.load_state_dict: {e}") from e
    return module


def sample_inputs(args, np):
    """--sample-input (.npy: one input; .npz or JSON object: named inputs) or --input-shape (float32 random)."""
    s = args.samples
    if s is not None:
        if isinstance(s, dict):
            return list(s.keys()), [np.asarray(v) if np.asarray(v).dtype.kind in "iub" else np.asarray(v, dtype=np.float32) for v in s.values()]
        arr = np.asarray(s)
        return ["input"], [arr if arr.dtype.kind in "iub" else arr.astype(np.float32)]
    if not args.input_shape:
        raise usage("a PyTorch module needs an input: --sample-input FILE (.npy/.npz/.json) or --input-shape 1,4")
    rng = np.random.default_rng(0)
    arrays = []
    for shape in args.input_shape:
        try:
            dims = [int(d) for d in shape.split(",")]
        except ValueError as e:
            raise usage(f"--input-shape {shape}: comma-separated whole numbers, e.g. 1,3,224,224") from e
        arrays.append(rng.normal(size=dims).astype(np.float32))
    names = ["input"] if len(arrays) == 1 else [f"input_{i}" for i in range(len(arrays))]
    return names, arrays


def export_torch(args, out):
    torch = require("torch", "torch")
    np = require("numpy", "base")
    require("onnx", "torch")
    progress("load", f"torch {torch.__version__}: {os.path.basename(args.source)}")
    module = load_module(args, torch)
    module.eval()
    names, arrays = sample_inputs(args, np)
    tensors = tuple(torch.from_numpy(a) for a in arrays)
    with torch.no_grad():
        expected = module(*tensors)
    outputs = list(expected) if isinstance(expected, (tuple, list)) else [expected]
    output_names = ["output"] if len(outputs) == 1 else [f"output_{i}" for i in range(len(outputs))]
    progress("convert", f"torch.onnx {torch.__version__} (opset {args.opset or 'default'})")
    try:
        torch.onnx.export(
            module, tensors, out,
            input_names=names, output_names=output_names,
            dynamic_axes={n: {0: "batch"} for n in names + output_names},
            **({"opset_version": args.opset} if args.opset else {}),
            dynamo=False,
        )
    except Exception as e:
        raise conversion(f"torch.onnx.export: {type(e).__name__}: {e}") from e

    def check(onnx_path):
        got_names, got = run_onnx(onnx_path, dict(zip(names, arrays)))
        return record([(n, o.numpy(), g) for n, o, g in zip(got_names, outputs, got)], int(arrays[0].shape[0]) if arrays[0].ndim else 1)

    return Converted(
        converter="torch.onnx", converter_version=torch.__version__, framework="pytorch", framework_version=torch.__version__,
        task=args.task, validate=check,
    )
