"""The sha256 of a file, for the scripts here that read back what modelctl wrote (read_hf_cache.py, read_local_dir.py)."""
import hashlib


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
