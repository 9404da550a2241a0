"""Logs a model the way MLflow users do and registers it, as NAME with ALIAS.

usage: log_onnx.py TRACKING_URI ONNX_FILE NAME ALIAS TAG_KEY=TAG_VALUE [--sklearn]

The ONNX file with mlflow.onnx.log_model; with --sklearn, a scikit-learn model (mlflow.sklearn.log_model, no ONNX
flavor) instead. Prints the registered version number.
"""
import sys

import mlflow
import mlflow.onnx
import mlflow.sklearn
import onnx


def main():
    uri, onnx_file, name, alias, tag = sys.argv[1:6]
    sklearn = "--sklearn" in sys.argv[6:]
    key, value = tag.split("=", 1)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("logged-by-mlflow")
    with mlflow.start_run():
        mlflow.log_metric("f1", 0.93)
        if sklearn:
            from sklearn.linear_model import LogisticRegression

            fitted = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
            info = mlflow.sklearn.log_model(fitted, name="model", registered_model_name=name)
        else:
            info = mlflow.onnx.log_model(onnx.load(onnx_file), name="model", registered_model_name=name)
    client = mlflow.MlflowClient()
    version = info.registered_model_version
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, key, value)
    print(version)


if __name__ == "__main__":
    main()
