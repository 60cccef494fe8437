#!/usr/bin/env python3
"""Plots bench/scale.sh's CSV: start-up and memory, and throughput, against the number of
events (log scale), with the goals of issue 16 drawn as dashed lines.

    python bench/plot_scale.py bench/results/scale.csv bench/results/scale.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
n = [int(r["events"]) for r in rows]


def col(name):
    return [float(r[name]) for r in rows]


fig, (time_ax, ram_ax, rps_ax) = plt.subplots(1, 3, figsize=(15, 4.6))
for ax in (time_ax, ram_ax, rps_ax):
    ax.set_xscale("log")
    ax.set_xlabel("events (31-column synthetic ACLED file)")
    ax.grid(True, which="both", alpha=0.3)

time_ax.plot(n, col("first_start_s"), "o-", label="first start (parse + index)")
time_ax.plot(n, col("restart_s"), "s-", label="restart (saved base)")
time_ax.axhline(30, ls="--", c="C0", alpha=0.5, label="goal at 10M: first start < 30 s")
time_ax.axhline(3, ls="--", c="C1", alpha=0.5, label="goal: restart < 3 s")
time_ax.set_ylabel("seconds to serving")
time_ax.set_title("Start-up")
time_ax.legend(fontsize=8)

ram_ax.plot(n, [v / 1024 for v in col("peak_rss_mb")], "o-", label="peak RSS, first start")
ram_ax.plot(n, [v / 1024 for v in col("serving_rss_mb")], "^-", label="RSS serving")
ram_ax.plot(n, [v / 1024 for v in col("restart_rss_mb")], "s-", label="RSS after restart")
ram_ax.axhline(3, ls="--", c="C3", alpha=0.5, label="goal at 10M: < 3 GB")
ram_ax.set_ylabel("GB")
ram_ax.set_title("Memory")
ram_ax.legend(fontsize=8)

for name, label in [
    ("hot_tile_rps", "hot tile"),
    ("warm_tiles_rps", "200 varied tiles, cache warm"),
    ("cold_tiles_rps", "200 varied tiles, cache off"),
    ("near_rps", "near Mopti 50 km, limit 100"),
]:
    rps_ax.plot(n, col(name), "o-", label=label)
rps_ax.set_yscale("log")
rps_ax.set_ylabel("requests/s (wrk -t2 -c32, 2 cores)")
rps_ax.set_title("Throughput")
rps_ax.legend(fontsize=8)

fig.tight_layout()
fig.savefig(sys.argv[2], dpi=110)
