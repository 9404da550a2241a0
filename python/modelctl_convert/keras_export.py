"""Keras (.keras, .h5) and TensorFlow SavedModel -> tf2onnx. The model is traced as a tf.function with a
batch-free input signature, which works for Keras 3 models (tf2onnx's from_keras predates Keras 3)."""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from .common import Converted, record, run_onnx, version_of  # noqa: E402
from .events import conversion, progress, require, usage  # noqa: E402


def _samples(args, specs, np):
    s = args.samples
    rng = np.random.default_rng(0)
    if s is None:
        out = []
        for spec in specs:
            dims = [4 if d is None else int(d) for d in spec.shape]
            out.append(rng.normal(size=dims).astype(spec.dtype.as_numpy_dtype))
        return out
    if isinstance(s, dict):
        if len(s) != len(specs):
            raise usage(f"--sample-input: the model takes {len(specs)} inputs, the file holds {len(s)}")
        return [np.asarray(v, dtype=spec.dtype.as_numpy_dtype) for v, spec in zip(s.values(), specs)]
    if len(specs) != 1:
        raise usage(f"--sample-input: the model takes {len(specs)} inputs: give a .npz or a JSON object of named arrays")
    return [np.asarray(s, dtype=specs[0].dtype.as_numpy_dtype)]


def _flatten(value, np):
    if isinstance(value, dict):
        return [np.asarray(value[k]) for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [np.asarray(v) for v in value]
    return [np.asarray(value)]


def export_keras(args, out):
    tf = require("tensorflow", "tf")
    tf2onnx = require("tf2onnx", "tf")
    np = require("numpy", "base")
    if os.path.isdir(args.source):
        progress("load", f"TensorFlow {tf.__version__}: SavedModel {os.path.basename(args.source.rstrip('/'))}")
        loaded = tf.saved_model.load(args.source)
        if "serving_default" not in getattr(loaded, "signatures", {}):
            raise conversion("the SavedModel has no serving_default signature to export")
        fn = loaded.signatures["serving_default"]
        _, kw = fn.structured_input_signature
        keys = sorted(kw)
        specs = [tf.TensorSpec(kw[k].shape, kw[k].dtype, name=k) for k in keys]
        source = lambda *xs: fn(**dict(zip(keys, xs)))  # noqa: E731
        framework = "tensorflow"
    else:
        keras = require("keras", "tf")
        progress("load", f"Keras {keras.__version__}: {os.path.basename(args.source)}")
        try:
            model = keras.saving.load_model(args.source, compile=False, safe_mode=True)
        except Exception as e:
            raise conversion(f"keras cannot load {args.source}: {type(e).__name__}: {e}") from e
        names = ["input"] if len(model.inputs) == 1 else [f"input_{i}" for i in range(len(model.inputs))]
        specs = [tf.TensorSpec([None] + list(i.shape[1:]), i.dtype, name=n) for i, n in zip(model.inputs, names)]
        source = lambda *xs: model(xs[0] if len(xs) == 1 else list(xs), training=False)  # noqa: E731
        framework = "keras"

    @tf.function(input_signature=specs)
    def traced(*xs):
        return source(*xs)

    arrays = _samples(args, specs, np)
    expected = _flatten(source(*[tf.constant(a) for a in arrays]), np)
    progress("convert", f"tf2onnx {tf2onnx.__version__} (opset {args.opset or 'default'})")
    try:
        tf2onnx.convert.from_function(traced, input_signature=specs, opset=args.opset, output_path=out)
    except Exception as e:
        raise conversion(f"tf2onnx: {type(e).__name__}: {e}") from e

    def check(onnx_path):
        got_names, got = run_onnx(onnx_path, {s.name: a for s, a in zip(specs, arrays)})
        if len(got) != len(expected):
            raise conversion(f"validation: the source gives {len(expected)} outputs, the ONNX model {len(got)}")
        return record(list(zip(got_names, expected, got)), int(arrays[0].shape[0]) if arrays[0].ndim else 1)

    return Converted(
        converter="tf2onnx", converter_version=tf2onnx.__version__, framework=framework,
        framework_version=version_of("keras") if framework == "keras" else tf.__version__, task=args.task, validate=check,
    )
