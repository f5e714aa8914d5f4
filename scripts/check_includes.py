#!/usr/bin/env python3
"""Fails when a project #include crosses the layer direction of the tree.

    cmd -> {cli, controller, loadtester, sandbox} -> {analysis, routing, api, kube/runtime}
        -> {kube, apimachinery, net} -> core

Each folder may include the folders listed for it below (and itself); a violation is printed
as FILE:LINE: the include, and the rule it breaks. Tests (tests/) may include anything.

    scripts/check_includes.py [ROOT]        exit 0 when clean, 1 with the violations listed
"""
import os
import re
import sys

# Folder -> the folders its files may include. The longest matching folder prefix applies.
ALLOWED = {
    "core": [],
    "apimachinery": ["core"],
    "net": ["core"],
    "kube": ["net", "core"],
    "kube/runtime": ["kube", "net", "apimachinery", "core"],
    "api": ["core"],
    "routing": ["api", "core"],
    "analysis": ["api", "net", "kube", "core"],
    "controller/canary": ["analysis", "routing", "api", "kube/runtime", "kube", "apimachinery", "net", "core"],
    "controller/gitops": ["analysis", "routing", "api", "kube/runtime", "kube", "apimachinery", "net", "core"],
    "loadtester": ["net", "core"],
    "sandbox/emulator": ["apimachinery", "net", "kube", "core"],
    "sandbox/sim": ["api", "net", "core"],
    "sandbox/faults": ["net", "core"],
    "sandbox/demo": ["sandbox/emulator", "sandbox/sim", "analysis", "routing", "api", "kube/runtime", "kube",
                     "apimachinery", "net", "core"],
    "cli": ["analysis", "routing", "api", "kube/runtime", "kube", "apimachinery", "net", "core"],
    "cmd": ["cli", "controller/canary", "controller/gitops", "loadtester", "sandbox/emulator", "sandbox/sim",
            "sandbox/faults", "sandbox/demo", "analysis", "routing", "api", "kube/runtime", "kube", "apimachinery",
            "net", "core"],
}

# Folders that must stay pure: no network, no event loop.
NO_IO = ("core", "api", "routing")
IO_HEADER = re.compile(r"#include\s*<(boost/asio|boost/beast)[^>]*>")
PROJECT_INCLUDE = re.compile(r'#include\s*"([^"]+)"')


def folder_of(path, folders):
    """The longest folder of `folders` that contains `path`, or None."""
    best = None
    for folder in folders:
        if path == folder or path.startswith(folder + "/"):
            if best is None or len(folder) > len(best):
                best = folder
    return best


def check_file(root, rel):
    problems = []
    own = folder_of(rel, ALLOWED)
    if own is None:
        return problems
    allowed = set(ALLOWED[own]) | {own}
    with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if own in NO_IO and IO_HEADER.search(line):
                problems.append(f"{rel}:{number}: {line.strip()}: {own}/ stays free of network and Asio headers")
                continue
            m = PROJECT_INCLUDE.search(line)
            if not m:
                continue
            target = folder_of(m.group(1), ALLOWED)
            if target is None or target in allowed:
                continue
            rule = f"{own}/ may include only {', '.join(sorted(allowed - {own})) or 'nothing else'}"
            if target.startswith("sandbox/"):
                rule += " (only cmd/ and tests include sandbox/)"
            problems.append(f"{rel}:{number}: {line.strip()}: {rule}")
    return problems


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    problems = []
    for folder in sorted(ALLOWED):
        base = os.path.join(root, folder)
        for dirpath, _, names in os.walk(base):
            for name in sorted(names):
                if not name.endswith((".h", ".cc")):
                    continue
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                # A file belongs to its innermost folder; walk each file once.
                if folder_of(rel, ALLOWED) != folder:
                    continue
                problems.extend(check_file(root, rel))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} include(s) cross the layer direction (rules: scripts/check_includes.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
