"""Loads YAML documents with PyYAML's safe loader and prints them as JSON (ASCII-escaped, so that any string, even
one with a lone surrogate, comes back to JavaScript as it was).

Usage: yaml_load.py FILE  (one document; `-` reads stdin)
"""

import json
import sys

import yaml


def main():
    path = sys.argv[1]
    if path == "-":
        text = sys.stdin.buffer.read().decode("utf-8", "surrogatepass")
    else:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "surrogatepass")
    docs = list(yaml.safe_load_all(text))
    json.dump(docs, sys.stdout, ensure_ascii=True, allow_nan=False)


if __name__ == "__main__":
    main()
