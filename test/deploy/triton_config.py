"""Reads a Triton config.pbtxt with the ModelConfig protobuf that tritonclient ships (text format, as Triton itself
reads it) and an ONNX model with the onnx library; prints both as one JSON document for the test to compare.

tritonclient's grpc package refuses to import without grpcio (only the [http] extra is installed), so its generated
model_config_pb2 module is loaded from its file: the message classes need protobuf alone.

Usage: triton_config.py CONFIG_PBTXT [MODEL_ONNX]  (without a model, "graph" is null)
"""

import importlib.util
import json
import os
import sys

import onnx
import tritonclient
from google.protobuf import text_format


def model_config_module():
    path = os.path.join(os.path.dirname(tritonclient.__file__), "grpc", "model_config_pb2.py")
    spec = importlib.util.spec_from_file_location("model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tensors(mc, items):
    out = []
    for t in items:
        out.append(
            {
                "name": t.name,
                "data_type": mc.DataType.Name(t.data_type),
                "dims": list(t.dims),
                "reshape": list(t.reshape.shape) if t.HasField("reshape") else None,
            }
        )
    return out


def graph_values(values, skip=()):
    out = []
    for v in values:
        if v.name in skip:
            continue
        kind = v.type.WhichOneof("value")
        entry = {"name": v.name, "kind": kind}
        if kind == "tensor_type":
            t = v.type.tensor_type
            entry["elem_type"] = onnx.TensorProto.DataType.Name(t.elem_type)
            entry["dims"] = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
        out.append(entry)
    return out


def main():
    config_path = sys.argv[1]
    model_path = sys.argv[2] if len(sys.argv) > 2 else None
    mc = model_config_module()
    with open(config_path, encoding="utf-8") as f:
        config = text_format.Parse(f.read(), mc.ModelConfig())
    graph = None
    if model_path is not None:
        model = onnx.load(model_path, load_external_data=False)
        initializers = {i.name for i in model.graph.initializer}
        graph = {
            "inputs": graph_values(model.graph.input, initializers),
            "outputs": graph_values(model.graph.output),
        }
    json.dump(
        {
            "config": {
                "name": config.name,
                "platform": config.platform,
                "max_batch_size": config.max_batch_size,
                "input": tensors(mc, config.input),
                "output": tensors(mc, config.output),
                "dynamic_batching": config.HasField("dynamic_batching"),
                "version_policy": config.version_policy.WhichOneof("policy_choice"),
                "default_model_filename": config.default_model_filename,
            },
            "graph": graph,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
