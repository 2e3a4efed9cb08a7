# SPDX-License-Identifier: GPL-2.0
"""What the instruction counts of tools/bench/*/count share: reading the
snapshots of the TCG plugin (tools/bench/tbcount.c), the kernel's and the
modules' symbols, and attributing the instructions of a window to
functions.

The guest script prints "COUNT <key> <numbers...>" lines (counters read
around the window) and "COUNT SYM <address> <type> <name> [module]" lines
(the loaded modules' /proc/kallsyms); the plugin writes snap-N.txt at each
sync(2) of the guest, 0 and 1 being the window's ends (one window per
boot).
"""

import bisect
import collections


class Window:
    """The counted window of one count run."""

    def __init__(self, log, sysmap, out):
        syms, self.stat = [], {}
        for line in open(sysmap):
            a, t, n = line.split()[:3]
            if t in "tTwW":
                syms.append((int(a, 16), n))
        for line in open(log, errors="replace"):
            i = line.find("COUNT ")
            if i < 0:
                continue
            p = line[i:].split()
            if len(p) < 2:
                continue
            if p[1] == "SYM":
                if len(p) >= 5 and p[3] in "tT":
                    # Module symbols are "name [module]".
                    syms.append((int(p[2], 16), " ".join(p[4:])))
            else:
                self.stat[p[1]] = [int(x) if x.isdigit() else None for x in p[2:]]
        syms.sort()
        self.syms = syms
        self.addrs = [a for a, _ in syms]
        (self.s0, self.e0), (self.s1, self.e1) = self._load(out, 0), self._load(out, 1)
        # Instructions per function in the window.
        self.per = collections.Counter()
        for a, ins in self.s1.items():
            d = ins - self.s0.get(a, 0)
            if d:
                self.per[self.sym(a)] += d
        self.total = sum(self.per.values())
        self.user = self.per["[user space]"]

    @staticmethod
    def _load(out, n):
        d, e = {}, {}
        for line in open(f"{out}/snap-{n}.txt"):
            a, ins, execs = line.split()
            d[int(a, 16)] = int(ins)
            e[int(a, 16)] = int(execs)
        return d, e

    def sym(self, v):
        if v < 0xffff800000000000:
            return "[user space]"
        i = bisect.bisect_right(self.addrs, v) - 1
        return self.syms[i][1] if i >= 0 else "?"

    def calls(self, *names):
        """Executions in the window of the first block of the functions
        named (module functions by their bare name): their calls."""
        found = [a for a, n in self.syms if n.split()[0] in names]
        return sum(self.e1.get(a, 0) - self.e0.get(a, 0) for a in found), found

    def delta(self, key, i):
        """Field i of "COUNT <key>2" minus that of "COUNT <key>1", or None."""
        a, b = self.stat.get(key + "1"), self.stat.get(key + "2")
        if not a or not b or i >= len(a) or i >= len(b) or a[i] is None or b[i] is None:
            return None
        return b[i] - a[i]


DMA = ("dma_", "__dma_", "debug_dma_", "iommu_", "__iommu_", "intel_iommu", "swiotlb", "__swiotlb")


def is_dma(k):
    return k.startswith(DMA)


def is_driver(k, mods):
    """The driver path: the functions of the modules `mods` ("[name]"), the
    DMA API, scatterlist helpers, memset and the kernel's rust_helper_*
    functions (the out-of-line C helpers that only Rust code calls)."""
    return (k.endswith(mods) or is_dma(k)
            or k.startswith(("sg_", "__sg_", "memset", "rust_helper_")))
