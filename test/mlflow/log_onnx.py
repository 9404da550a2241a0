"""Logs an ONNX file the way MLflow users do (mlflow.onnx.log_model) and registers it, as NAME with ALIAS.

usage: log_onnx.py TRACKING_URI ONNX_FILE NAME ALIAS TAG_KEY=TAG_VALUE

Prints the registered version number.
"""
import sys

import mlflow
import mlflow.onnx
import onnx


def main():
    uri, onnx_file, name, alias, tag = sys.argv[1:6]
    key, value = tag.split("=", 1)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("logged-by-mlflow")
    with mlflow.start_run():
        mlflow.log_metric("f1", 0.93)
        info = mlflow.onnx.log_model(onnx.load(onnx_file), name="model", registered_model_name=name)
    client = mlflow.MlflowClient()
    version = info.registered_model_version
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, key, value)
    print(version)


if __name__ == "__main__":
    main()
