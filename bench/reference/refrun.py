"""Helpers shared by the reference scripts of bench/reference (standard library only)."""

import json
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


def emit(res, path=None):
    """Writes res as indented JSON to path, or to standard output."""
    s = json.dumps(res, indent=1)
    if path:
        with open(path, "w") as fh:
            fh.write(s)
    else:
        print(s)
