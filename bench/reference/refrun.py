"""Helpers shared by the reference scripts of bench/reference (standard library only)."""

import json
import re
import subprocess
import sys
import tempfile


def timed(cmd, env=None):
    """Runs cmd under /usr/bin/time; returns (wall s, cpu s, peak RSS MiB)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        full = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", tf.name] + cmd
        r = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
        wall, user, sys_, rss = tf.read().split()[-4:]
    return float(wall), float(user) + float(sys_), float(rss) / 1024


def blas_library():
    """The BLAS shared library this process has loaded (after its first
    product), from /proc/self/maps; None where that is not readable.
    Debian's torch calls BLAS through libblas.so.3, whose alternative is
    the netlib reference BLAS unless an optimised one (libopenblas0) is
    installed: a float32 product then runs at about 6 instead of 290
    GFlop/s on two cores, and the reference's exact run takes 3-4 times
    as long."""
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if len(line.split()) >= 6}
    except OSError:
        return None
    hits = sorted(x for x in paths if re.search(r"(open)?blas|mkl", x.rsplit("/", 1)[-1]))
    return ", ".join(hits) or None


def print_blas(libraries):
    """Prints each of the BLAS libraries the reference processes reported
    (blas_library's answers), with a warning for the netlib reference BLAS."""
    for blas in sorted(libraries, key=str):
        print(f"the reference's BLAS: {blas}")
        if blas and "openblas" not in blas and "mkl" not in blas and "/blas/" in blas:
            print(f"warning: the reference's torch runs on the netlib reference BLAS ({blas}), 3-4 times slower; "
                  "apt-get install libopenblas0 (Debian switches libblas.so.3 to OpenBLAS)")


def emit(res, path=None):
    """Writes res as indented JSON to path, or to standard output."""
    s = json.dumps(res, indent=1)
    if path:
        with open(path, "w") as fh:
            fh.write(s)
    else:
        print(s)
