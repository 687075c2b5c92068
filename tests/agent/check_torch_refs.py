#!/usr/bin/python3
"""The PyTorch references of `o2o bench` (agent/bench/torch/*.py): every file parses, every
Config field has a default and a flag; when torch is importable (Debian python3-torch, an
optional dependency), each runs 3 updates with --check and its losses must be finite.
Without torch the second part is skipped and says so (CI does not need torch)."""
import ast
import pathlib
import subprocess
import sys

root = pathlib.Path(sys.argv[1])
scripts = sorted(root.glob("torch_*.py"))
if len(scripts) < 3:
    sys.exit(f"expected torch_sac/iql/cql.py in {root}, found {[s.name for s in scripts]}")
for s in scripts + [root / "common.py"]:
    tree = ast.parse(s.read_text(), str(s))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Config":
            for f in node.body:
                if isinstance(f, ast.AnnAssign) and f.value is None:
                    sys.exit(f"{s.name}: Config.{f.target.id} has no default")
try:
    import torch  # noqa: F401
except ImportError:
    print(f"parsed {len(scripts)} references; torch not importable: --check runs skipped")
    sys.exit(0)
for s in scripts:
    r = subprocess.run([sys.executable, str(s), "--check"], capture_output=True, text=True,
                       timeout=600, env={"OPENBLAS_NUM_THREADS": "1", "PATH": "/usr/bin:/bin",
                            "PYTHONDONTWRITEBYTECODE": "1"})
    print(r.stdout.strip(), r.stderr.strip()[-500:])
    if r.returncode or " check " not in r.stdout:
        sys.exit(f"{s.name} --check failed (exit {r.returncode})")
print(f"{len(scripts)} references ran their --check")
