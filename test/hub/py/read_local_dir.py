"""Downloads a repo into a --local-dir folder that modelctl filled, with the real huggingface_hub client online
(against the loopback Hub the test runs): with modelctl's .cache/huggingface metadata there, huggingface_hub finds
every file up to date and fetches none of them again.

Request (JSON on stdin): {"local_dir", "repo_id", "revision", "files": [paths]}.
Answer (JSON on stdout): the folder snapshot_download returned, and for each requested path whether hf_hub_download
returned the file in the folder and its sha256. Any failure is an exception (a non-zero exit with the traceback).
"""

import json
import os
import sys

os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

from huggingface_hub import hf_hub_download, snapshot_download  # noqa: E402

from hashing import sha256  # noqa: E402  (beside this script)


def main():
    req = json.load(sys.stdin)
    folder = snapshot_download(req["repo_id"], revision=req["revision"], local_dir=req["local_dir"],
                               allow_patterns=req["files"])
    single = {}
    for path in req["files"]:
        got = hf_hub_download(req["repo_id"], path, revision=req["revision"], local_dir=req["local_dir"])
        single[path] = {"in_folder": os.path.samefile(got, os.path.join(req["local_dir"], path)), "sha256": sha256(got)}
    json.dump({"folder": folder, "single": single}, sys.stdout)


main()
