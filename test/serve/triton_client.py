"""The official Triton HTTP client against modelctl serve: prints one JSON document of what it saw.

Usage: triton_client.py URL MODEL INPUTS_JSON
INPUTS_JSON: {"NAME": {"datatype": "FP32", "data": [[...]]}, ...}. Every call is made twice, with the binary tensor
extension (tritonclient's default) and with JSON tensors (binary_data=False).
"""
import json
import sys

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import triton_to_np_dtype


def main() -> None:
    url, model, spec = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    client = httpclient.InferenceServerClient(url=url.replace("http://", ""))
    meta = client.get_model_metadata(model)
    out = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready(model),
        "metadata": meta,
        "config": client.get_model_config(model),
    }
    outputs = [o["name"] for o in meta["outputs"]]
    for binary in (True, False):
        inputs = []
        for name, t in spec.items():
            arr = np.array(t["data"], dtype=triton_to_np_dtype(t["datatype"]))
            i = httpclient.InferInput(name, list(arr.shape), t["datatype"])
            i.set_data_from_numpy(arr, binary_data=binary)
            inputs.append(i)
        requested = [httpclient.InferRequestedOutput(n, binary_data=binary) for n in outputs]
        result = client.infer(model, inputs, outputs=requested, request_id="triton-1")
        response = result.get_response()
        out["binary" if binary else "json"] = {
            "id": response.get("id"),
            "model_name": response.get("model_name"),
            "outputs": {n: result.as_numpy(n).tolist() for n in outputs},
            "dtypes": {n: str(result.as_numpy(n).dtype) for n in outputs},
        }
    try:
        client.get_model_metadata("no-such-model")
        out["missing"] = None
    except Exception as e:  # tritonclient raises InferenceServerException with the server's "error" text
        out["missing"] = str(e)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
