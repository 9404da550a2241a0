"""Reads an HF cache that modelctl wrote, with the real huggingface_hub client, offline.

Request (JSON on stdin): {"cache_dir", "repo_id", "repo_type", "revision", "files": [paths]}.
Answer (JSON on stdout): the snapshot folder snapshot_download returned and the sha256 of every file under it,
and for each requested path the sha256 of the file hf_hub_download returned. Any failure is an exception: the
test sees a non-zero exit with the traceback.
"""

import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from huggingface_hub import hf_hub_download, snapshot_download  # noqa: E402

from hashing import sha256  # noqa: E402  (beside this script)


def main():
    req = json.load(sys.stdin)
    common = {"cache_dir": req["cache_dir"], "repo_type": req["repo_type"], "revision": req["revision"]}
    folder = snapshot_download(req["repo_id"], **common)
    snapshot = {}
    for root, _dirs, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            snapshot[os.path.relpath(path, folder).replace(os.sep, "/")] = sha256(path)
    single = {}
    for path in req["files"]:
        single[path] = sha256(hf_hub_download(req["repo_id"], path, **common))
    json.dump({"folder": folder, "snapshot": snapshot, "single": single}, sys.stdout)


main()
