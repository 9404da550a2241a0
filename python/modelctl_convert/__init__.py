"""modelctl's converter scripts: run as `python export.py ...` in a child process of modelctl.

The protocol (DESIGN.md): JSON Lines events on stdout (progress, warning, result, error), logs on stderr, a
non-zero exit code on failure. Exit codes: 2 usage, 3 a converter module is missing, 4 conversion failed,
5 validation failed (the difference is above --atol).
"""
