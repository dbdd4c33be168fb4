#!/usr/bin/env python3
"""Draws the tables `scripts/bench-runtime.py --json FILE` wrote as bar charts (matplotlib).

    python3 scripts/bench-runtime.py --only-startup --repeat 40 --json bench.json
    python3 scripts/bench-chart.py bench.json docs/bench    # docs/bench-<section>.svg

One horizontal bar chart per table, each bar labelled with its value, so BENCHMARKS.md can
show what the tables say. Tables named `GROUP :: ROW` (scripts/bench/peers.py: one per job,
a bar per runner) are drawn together as one chart of grouped bars, `<prefix>-<GROUP>.svg`.
Installs Debian's python3-matplotlib if it is missing.
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


def grouped(plt, group, sections, prefix):
    """One chart for the tables `group :: row`: a cluster of bars per table, a colour per label."""
    labels = list(dict.fromkeys(label for rows in sections.values() for label, _, _ in rows))
    height = 0.8 / len(labels)
    fig, ax = plt.subplots(figsize=(10, 0.9 * len(sections) * max(1, len(labels) / 5) + 1.5))
    for i, label in enumerate(labels):
        ys, values = [], []
        for row, rows in enumerate(sections.values()):
            for got, value, _ in rows:
                if got == label:
                    ys.append(row + i * height)
                    values.append(value)
        bars = ax.barh(ys, values, height=height, label=label)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=6, padding=2)
    ax.set_yticks([row + 0.4 - height / 2 for row in range(len(sections))], [name.split(" :: ", 1)[1] for name in sections], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.axvline(1, color="#888", linewidth=0.8)  # native
    ax.set_xlabel(next(iter(sections.values()))[0][2] + " (log scale)")
    ax.set_title(group, fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    out = f"{prefix}-{slug(group)}.svg"
    fig.savefig(out, metadata={"Date": None})
    plt.close(fig)
    print(out)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    results, prefix = json.load(open(sys.argv[1])), sys.argv[2]
    plt = pyplot()
    groups = {}
    for section, rows in results.items():
        if " :: " in section:
            groups.setdefault(section.split(" :: ", 1)[0], {})[section] = rows
    for group, sections in groups.items():
        grouped(plt, group, sections, prefix)
    for section, rows in results.items():
        if " :: " in section:
            continue
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
