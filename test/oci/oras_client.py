"""The real ORAS Python client (PyPI `oras`) against the test registry, for test/oci/*.test.ts.

  oras_client.py pull HOST/REPO:TAG OUTDIR           -> {"files": [paths]}
  oras_client.py push HOST/REPO:TAG DIR FILE...      -> {"status": HTTP status}
  oras_client.py manifest HOST/REPO:TAG              -> the manifest as JSON

Credentials, when the registry needs them, come from ORAS_USER and ORAS_PASSWORD (oras' login saves them under
$HOME/.docker: the tests give it a HOME of its own). Plain HTTP (loopback).
"""

import json
import os
import sys

import oras.client


def client(target):
    host = target.split("/", 1)[0]
    login = bool(os.environ.get("ORAS_USER"))
    # htpasswd registries answer with a Basic challenge: oras' default backend expects a token service.
    c = oras.client.OrasClient(hostname=host, insecure=True, auth_backend="basic" if login else "token")
    if login:
        c.login(
            hostname=host,
            username=os.environ["ORAS_USER"],
            password=os.environ["ORAS_PASSWORD"],
        )
    return c


def main():
    command, target = sys.argv[1], sys.argv[2]
    c = client(target)
    if command == "pull":
        files = c.pull(target=target, outdir=sys.argv[3])
        print(json.dumps({"files": sorted(files)}))
    elif command == "push":
        os.chdir(sys.argv[3])
        response = c.push(target=target, files=sys.argv[4:])
        print(json.dumps({"status": response.status_code}))
    elif command == "manifest":
        print(json.dumps(c.get_manifest(target)))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
