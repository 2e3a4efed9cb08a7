# SPDX-License-Identifier: GPL-2.0
"""The report of the driver benchmarks (tools/bench/blk/run, net/run,
console/run): statistics, CSV and a PNG plot.

usage: report.py CONSOLE_LOG OUT_DIR PINNING TITLE [SHORT_TITLE]

Reads the guest's "BENCH driver workload rep value [unit]" lines (driver
C or Rust; unit defaults to IOPS; higher values are better). For each
workload and each repetition with both drivers, the ratio is Rust / C; over
the repetitions it prints the mean, the median, a 95% confidence interval
of the mean (Student's t-interval: mean +- t(0.975, n-1) * s / sqrt(n), s
the sample standard deviation; no interval with n = 1) and the minimum and
maximum. Writes OUT_DIR/run.csv (every run), summary.csv (per workload)
and summary.png (one bar per workload, Rust/C with its interval, titled
SHORT_TITLE or TITLE; python3-matplotlib, else gnuplot, else skipped with
a message).
"""

import collections
import csv
import math
import os
import shutil
import statistics
import subprocess
import sys

# Two-sided 95% quantiles of Student's t, t(0.975, df), df = 1..30.
T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df):
    if df <= len(T975):
        return T975[df - 1]
    # Beyond the table: the value at the next tabulated df below (larger,
    # so the interval errs wide).
    for lim, t in ((40, 2.042), (60, 2.021), (120, 2.000)):
        if df < lim:
            return t
    return 1.980


def interval(xs):
    """(low, high) of the 95% t-interval of the mean, or None for n < 2."""
    n = len(xs)
    if n < 2:
        return None
    m = statistics.fmean(xs)
    h = t975(n - 1) * statistics.stdev(xs) / math.sqrt(n)
    return m - h, m + h


def plot_matplotlib(rows, title, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r["workload"] for r in rows]
    means = [r["ratio_mean"] for r in rows]
    err = [[r["ratio_mean"] - (r["ci_low"] if r["ci_low"] is not None else r["ratio_mean"]) for r in rows],
           [(r["ci_high"] if r["ci_high"] is not None else r["ratio_mean"]) - r["ratio_mean"] for r in rows]]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.bar(names, means, yerr=err, capsize=6, color="#4c72b0")
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.set_ylabel("Rust/C (mean, 95% t-interval)")
    ax.set_title(title, fontsize=9)
    for i, m in enumerate(means):
        ax.annotate(f"{m:.2f}", (i, m), textcoords="offset points", xytext=(14, 2), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def plot_gnuplot(rows, title, path, out):
    data = os.path.join(out, "summary.dat")
    with open(data, "w") as f:
        for i, r in enumerate(rows):
            lo = r["ci_low"] if r["ci_low"] is not None else r["ratio_mean"]
            hi = r["ci_high"] if r["ci_high"] is not None else r["ratio_mean"]
            f.write(f'{i} "{r["workload"]}" {r["ratio_mean"]} {lo} {hi}\n')
    script = f"""set terminal png size 820,420 noenhanced
set output '{path}'
set title "{title}" font ",9"
set ylabel "Rust/C (mean, 95% t-interval)"
set style fill solid 0.6
set boxwidth 0.6
set yrange [0:*]
set xrange [-0.6:{len(rows) - 0.4}]
f(x) = 1
plot '{data}' using 1:3:xtic(2) with boxes notitle, \\
     '' using 1:3:4:5 with yerrorbars lc rgb "black" pt 0 notitle, \\
     f(x) with lines lc rgb "black" notitle
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def plot(rows, title, out):
    path = os.path.join(out, "summary.png")
    try:
        import matplotlib  # noqa: F401
        have_mpl = True
    except ImportError:
        have_mpl = False
    if have_mpl:
        plot_matplotlib(rows, title, path)
        return f"plot: {path} (matplotlib)"
    if shutil.which("gnuplot"):
        plot_gnuplot(rows, title, path, out)
        return f"plot: {path} (gnuplot)"
    return ("plot: skipped: neither python3-matplotlib nor gnuplot is installed "
            "(tools/setup/deps.sh installs python3-matplotlib; or apt-get install gnuplot-nox)")


def fmt_value(v):
    """A measured value: whole units from 100 up, else 3 significant digits."""
    return f"{v:.0f}" if abs(v) >= 100 else f"{v:.3g}"


def main():
    if len(sys.argv) not in (5, 6):
        sys.exit("usage: report.py CONSOLE_LOG OUT_DIR PINNING TITLE [SHORT_TITLE]")
    log, out, pinning, title = sys.argv[1:5]
    short = sys.argv[5] if len(sys.argv) == 6 else title
    runs = collections.defaultdict(dict)  # workload -> {(driver, rep): value}
    units = {}
    order = []
    for line in open(log, errors="replace"):
        p = line.split()
        if len(p) in (5, 6) and p[0] == "BENCH":
            drv, wl, rep, value = p[1:5]
            if wl not in order:
                order.append(wl)
            units[wl] = p[5] if len(p) == 6 else "IOPS"
            try:
                runs[wl][(drv, int(rep))] = float(value)
            except ValueError:
                pass
    print(title)
    print(f"vCPU threads: {pinning}")
    print("ratio = Rust / C per repetition (higher is better for both); "
          "95% CI: Student's t-interval of the mean ratio")
    print(f"{'workload':<18} {'unit':>7} {'C':>9} {'Rust':>9} {'mean':>6} {'median':>6} {'95% CI':>13}  min..max")
    with open(os.path.join(out, "run.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "driver", "rep", "value", "unit"])
        for wl in order:
            for (drv, rep), v in sorted(runs[wl].items(), key=lambda kv: (kv[0][1], kv[0][0])):
                w.writerow([wl, drv, rep, f"{v:.1f}", units[wl]])
    rows = []
    for wl in order:
        r = runs[wl]
        both = sorted(i for (d, i) in r if d == "C" and ("Rust", i) in r)
        c = [r[("C", i)] for i in both]
        rs = [r[("Rust", i)] for i in both]
        ratios = [b / a for a, b in zip(c, rs) if a > 0]
        if not ratios:
            print(f"{wl:<18} no complete pair")
            continue
        ci = interval(ratios)
        row = {
            "workload": wl,
            "unit": units[wl],
            "n": len(ratios),
            "c": statistics.fmean(c),
            "rust": statistics.fmean(rs),
            "ratio_mean": statistics.fmean(ratios),
            "ratio_median": statistics.median(ratios),
            "ci_low": ci[0] if ci else None,
            "ci_high": ci[1] if ci else None,
            "min": min(ratios),
            "max": max(ratios),
        }
        rows.append(row)
        cis = f"{ci[0]:.2f}..{ci[1]:.2f}" if ci else "n/a (n=1)"
        print(f"{wl:<18} {row['unit']:>7} {fmt_value(row['c']):>9} {fmt_value(row['rust']):>9} {row['ratio_mean']:>6.2f} "
              f"{row['ratio_median']:>6.2f} {cis:>13}  {row['min']:.2f}..{row['max']:.2f}")
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["workload", "unit", "n", "c_mean", "rust_mean", "ratio_mean", "ratio_median",
                    "ci95_low", "ci95_high", "ratio_min", "ratio_max", "interval", "pinning", "setup"])
        for row in rows:
            fmt = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
            w.writerow([row["workload"], row["unit"], row["n"], f"{row['c']:.1f}", f"{row['rust']:.1f}",
                        fmt(row["ratio_mean"]), fmt(row["ratio_median"]), fmt(row["ci_low"]),
                        fmt(row["ci_high"]), fmt(row["min"]), fmt(row["max"]), "student-t 95%",
                        pinning, title])
    print(f"csv: {os.path.join(out, 'run.csv')}, {os.path.join(out, 'summary.csv')}")
    if rows:
        try:
            print(plot(rows, short, out))
        except Exception as e:  # a plot must not lose the numbers
            print(f"plot: failed: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
