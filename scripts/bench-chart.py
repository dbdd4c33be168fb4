#!/usr/bin/env python3
"""Draws the tables `scripts/bench-runtime.py --json FILE` wrote as bar charts (matplotlib).

    python3 scripts/bench-runtime.py --only-startup --repeat 40 --json bench.json
    python3 scripts/bench-chart.py bench.json docs/bench    # docs/bench-<section>.svg

One horizontal bar chart per table, each bar labelled with its value, so BENCHMARKS.md can
show what the tables say. Installs Debian's python3-matplotlib if it is missing.
"""
import json
import os
import re
import subprocess
import sys


def pyplot():
    try:
        import matplotlib
    except ImportError:
        subprocess.run(["apt-get", "install", "-y", "-qq", "python3-matplotlib"], check=True, stdout=subprocess.DEVNULL)
        if sys.executable != "/usr/bin/python3":
            # Debian's package is for Debian's python (another one may come first in PATH).
            os.execv("/usr/bin/python3", ["/usr/bin/python3", *sys.argv])
        import matplotlib
    matplotlib.use("svg")
    matplotlib.rcParams["svg.hashsalt"] = "trapbox"  # the same data gives the same file
    import matplotlib.pyplot as plt
    return plt


def slug(section):
    return re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")[:48]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    results, prefix = json.load(open(sys.argv[1])), sys.argv[2]
    plt = pyplot()
    for section, rows in results.items():
        labels = [label for label, _, _ in rows]
        values = [value for _, value, _ in rows]
        unit = rows[0][2] if rows else ""
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.2))
        bars = ax.barh(range(len(rows)), values, color=["#888" if "native" in l.lower() else "#3a6ea5" for l in labels])
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
        ax.set_title(section, fontsize=10)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=7, padding=2)
        ax.margins(x=0.15)
        fig.tight_layout()
        out = f"{prefix}-{slug(section)}.svg"
        fig.savefig(out, metadata={"Date": None})
        plt.close(fig)
        print(out)


if __name__ == "__main__":
    main()
