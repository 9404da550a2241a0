#!/usr/bin/env python3
"""Check ONNX files with the onnx package's own checker; one JSON line per file on stdout.

    python check_onnx.py MODEL.onnx [MODEL.onnx ...]

Each line: {"path", "ok", "error", "ir_version", "opset", "metadata_props", "graph_sha256"}.
`ok` is onnx.checker.check_model(path, full_check=False); `error` is "ExceptionClass: message" or null.
The other fields are read with onnx.load(load_external_data=False) and are null when the file does not
parse. `graph_sha256` hashes model.graph.SerializeToString(): with external data not loaded, an external
initializer contributes its reference (location, offset, length), not its bytes.

Exit 0 when every file was examined, whatever the verdicts (the JSON says which failed); 2 on usage errors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys


def examine(path: str) -> dict:
    import onnx

    result = {"path": path, "ok": False, "error": None, "ir_version": None, "opset": None,
              "metadata_props": None, "graph_sha256": None}
    try:
        model = onnx.load(path, load_external_data=False)
        result["ir_version"] = model.ir_version
        result["opset"] = {op.domain: op.version for op in model.opset_import}
        result["metadata_props"] = {p.key: p.value for p in model.metadata_props}
        result["graph_sha256"] = hashlib.sha256(model.graph.SerializeToString()).hexdigest()
        # By path, not by the loaded proto: the checker then resolves external data next to the file
        # and can check models above the 2 GiB protobuf limit.
        onnx.checker.check_model(path, full_check=False)
        result["ok"] = True
    except Exception as e:  # any failure of one file is that file's verdict, not the script's
        result["error"] = f"{type(e).__name__}: {e}".strip()
    return result


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paths", nargs="+", metavar="MODEL.onnx", help="ONNX files to check")
    args = ap.parse_args(argv)  # exits 2 on a usage error
    try:
        import onnx  # noqa: F401  (fail once, clearly, instead of once per file)
    except ImportError as e:
        print(f"check_onnx.py: the onnx package is not installed in {sys.executable}: {e}", file=sys.stderr)
        return 2
    for path in args.paths:
        print(json.dumps(examine(path), ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
