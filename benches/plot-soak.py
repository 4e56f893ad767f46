#!/usr/bin/env python3
"""Draws the samples of `soak --csv FILE` as one PNG: RSS, descriptors and threads, latency,
and throughput, per minute.

    python3 benches/plot-soak.py docs/soak.csv docs/soak.png

Needs matplotlib (`pip install matplotlib`); only for drawing, not for the tests.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(source: str, target: str) -> None:
    rows = list(csv.DictReader(open(source)))
    minute = [int(r["minute"]) for r in rows]
    col = lambda name: [float(r[name]) for r in rows]  # noqa: E731
    fig, axes = plt.subplots(4, 1, figsize=(9, 11), sharex=True)
    axes[0].plot(minute, col("rss_mib"), label="RSS (MiB)")
    axes[0].plot(minute, col("data_mib"), label="data directory (MiB)", linestyle="--")
    axes[0].set_ylabel("MiB")
    axes[0].legend()
    axes[0].set_title("idnode soak: mixed traffic at half of the measured capacity")
    axes[1].plot(minute, col("fds"), label="open descriptors")
    axes[1].plot(minute, col("threads"), label="threads")
    axes[1].plot(minute, col("connections"), label="open connections")
    axes[1].set_ylabel("count")
    axes[1].legend()
    axes[2].plot(minute, col("p50_ms"), label="p50")
    axes[2].plot(minute, col("p99_ms"), label="p99")
    axes[2].set_ylabel("latency (ms)")
    axes[2].legend()
    axes[3].plot(minute, [o / 60 for o in col("ops")], label="operations/s")
    axes[3].plot(minute, col("errors"), label="errors per minute")
    axes[3].set_ylabel("rate")
    axes[3].set_xlabel("minute")
    axes[3].legend()
    fig.tight_layout()
    fig.savefig(target, dpi=80)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
