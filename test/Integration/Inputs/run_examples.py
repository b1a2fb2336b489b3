"""Runs every example through sparse-attn-run --check with the element type
rewritten to the one given (f16 examples become f32 or bf16 variants).
Each run compares the fused kernel with the float64 reference of the
definition: 1e-5 relative error for f32, 1e-2 for f16 / bf16."""
import glob
import os
import re
import subprocess
import sys
import tempfile

run, examples, elt = sys.argv[1], sys.argv[2], sys.argv[3]
extra = sys.argv[4:]
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for path in sorted(glob.glob(os.path.join(examples, "*.mlir"))):
        text = open(path).read()
        text = re.sub(r"x(f16)>", "x" + elt + ">", text)
        name = os.path.basename(path)
        if "--lowering=reference" in extra and "block_tables(" in text:
            # The unfused linalg reference lowering takes no runtime block
            # tables (it diagnoses them); the fused runs check these.
            print("SKIP %s %s: runtime block tables" % (name, elt))
            continue
        variant = os.path.join(tmp, name)
        with open(variant, "w") as f:
            f.write(text)
        res = subprocess.run([run, variant, "--check"] + extra,
                             capture_output=True, text=True)
        ok = res.returncode == 0 and "FAILED" not in res.stdout
        failures += not ok
        print("%s %s %s: %s" % ("PASS" if ok else "FAIL", name, elt,
                                res.stdout.strip().replace("\n", " | ") or res.stderr.strip()))
print("%d examples, %d failed" % (len(glob.glob(os.path.join(examples, "*.mlir"))), failures))
sys.exit(1 if failures else 0)
