"""What MLflow itself makes of a model modelctl pushed, printed as one JSON object.

usage: check_mlflow.py TRACKING_URI NAME VERSION ALIAS ONNX_FILE INPUT_JSON

Loads models:/NAME/VERSION with mlflow.pyfunc (the ONNX flavor's loader) and predicts on the input rows; runs the
original ONNX file with onnxruntime on the same rows; and reads the model version, its alias, tags, description
and its run's metrics through MlflowClient.
"""
import json
import sys

import mlflow
import mlflow.pyfunc
import numpy as np
import onnxruntime as ort


def listed(outputs):
    return {k: np.asarray(v).tolist() for k, v in outputs.items()}


def main():
    uri, name, version, alias, onnx_file, input_json = sys.argv[1:7]
    mlflow.set_tracking_uri(uri)
    rows = np.asarray(json.loads(input_json), dtype=np.float32)

    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    input_name = model.metadata.get_input_schema().input_names()[0]
    pyfunc_out = model.predict({input_name: rows})

    session = ort.InferenceSession(onnx_file, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    ort_out = dict(zip(names, session.run(names, {session.get_inputs()[0].name: rows})))

    client = mlflow.MlflowClient()
    mv = client.get_model_version(name, version)
    by_alias = client.get_model_version_by_alias(name, alias)
    run = client.get_run(mv.run_id)
    print(
        json.dumps(
            {
                "pyfunc": listed(pyfunc_out),
                "onnxruntime": listed(ort_out),
                "loader": model.metadata.flavors["python_function"]["loader_module"],
                "flavors": sorted(model.metadata.flavors),
                "alias_version": by_alias.version,
                "tags": mv.tags,
                "description": mv.description,
                "metrics": run.data.metrics,
                "run_status": run.info.status,
            }
        )
    )


if __name__ == "__main__":
    main()
