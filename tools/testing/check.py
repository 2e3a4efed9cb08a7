#!/usr/bin/env python3
"""`make check`: every rvirtio test, one summary line at the end.

Steps, in order (a failing step does not stop the later ones unless they
need its output):
  1. build the modules through clippy, every warning an error;
  2. rustfmt check;
  3. host tests: `cargo test` of every crate under rust/ (the
     kernel-independent code), then each crate's `check-extra` script if it
     has one (bounded fuzzing, for instance);
  4. the KTAP collector's self-test on captured logs (test_ktap.py), and
     the benchmarks' smoke test (test_bench.py: their scripts parse, their
     report computes; the benchmarks themselves never run here);
  5. the guest initramfs, the VM runner's self-test (test_vm_runner.py),
     then every VM test in tools/testing/vm/*.sh under QEMU, two guests at
     a time (RVIRTIO_VM_JOBS), with the KUnit results of the modules each
     loads.

Counting: a cargo or unittest test is one test; a lint step is one test; a
VM test script is one test, and each KUnit case it ran is one more (a
failing, incomplete or missing suite counts as a failure).

The last line is `N passed, N failed[, N skipped]`; the exit status is 1
when anything failed.

A VM test is a /bin/sh script run in the guest by tools/vm/run. Header
lines set how it runs:
    # rvirtio-test: timeout=120 smp=2 mem=1024
    # rvirtio-test: kunit=SUITE[,SUITE...]   suites that must run and pass
    # rvirtio-test: disks=256M,64M           fresh raw images, named in the
    #                                        QEMU arguments as @DISK0@, @DISK1@
    # rvirtio-qemu: -device virtio-rng-pci   QEMU arguments (repeatable)
    # rvirtio-test: machines=pc,microvm      run once per machine (tools/vm/run
    #                                        --machine), as NAME@MACHINE
    # rvirtio-qemu[microvm*]: -device virtio-rng-device
    #                                        QEMU arguments for the machines
    #                                        matching one of the patterns
    # rvirtio-test: net=bridge[,mtu=N][,queues=N] QEMU in its own host network
    #                                        namespace with the taps rvtap0
    #                                        and rvtap1 on a bridge (tools/vm/run
    #                                        --net)
    # rvirtio-test: sockets=p0,p1            UNIX sockets @SOCK:p0@, ... for
    #                                        QEMU arguments; NAME.host beside
    #                                        the script, if there, runs on the
    #                                        host with RVIRTIO_SOCK_p0=path
    #                                        (tools/vm/run --sockets, --host)
    # rvirtio-test: kernel=kasan             boot a kernel variant (tools/lib.sh):
    #                                        its kernel, modules and initramfs
    #                                        are built first (make initramfs
    #                                        KVARIANT=kasan), only when a test
    #                                        to run names it; a KASAN report on
    #                                        the console fails the test
"""

import argparse
import concurrent.futures
import fnmatch
import glob
import io
import os
import re
import shlex
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tools", "testing"))
import ktap  # noqa: E402

LOGDIR = os.path.join(TOP, "build", "test-logs")


class Tally:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []

    def add(self, name, passed=0, failed=0, skipped=0):
        self.passed += passed
        self.failed += failed
        self.skipped += skipped
        if failed:
            self.failures.append(name)


def say(msg):
    print(msg, flush=True)


def run(cmd, log, env=None, cwd=TOP, timeout=None):
    """Runs cmd with output to log; returns (status, output)."""
    with open(log, "w") as f:
        try:
            p = subprocess.run(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT,
                               env=env, timeout=timeout)
            status = p.returncode
        except subprocess.TimeoutExpired:
            f.write(f"\ncheck: timed out after {timeout} s\n")
            status = 124
    with open(log, encoding="utf-8", errors="replace") as f:
        return status, f.read()


def tail(text, n=40):
    lines = text.rstrip().splitlines()
    return "\n".join("    " + l for l in lines[-n:])


def step_simple(t, name, cmd, **kw):
    t0 = time.time()
    status, out = run(cmd, os.path.join(LOGDIR, f"{name}.log"), **kw)
    if status == 0:
        say(f"PASS {name} ({time.time() - t0:.0f} s)")
        t.add(name, passed=1)
    else:
        say(f"FAIL {name} (status {status}; log build/test-logs/{name}.log)\n{tail(out)}")
        t.add(name, failed=1)
    return status == 0


def cargo():
    for c in ("cargo", os.path.expanduser("~/.cargo/bin/cargo")):
        try:
            subprocess.run([c, "--version"], capture_output=True, check=True)
            return c
        except (OSError, subprocess.CalledProcessError):
            pass
    return None


def host_tests(t):
    crates = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(TOP, "rust", "*", "Cargo.toml")))
    if not crates:
        return
    c = cargo()
    if c is None:
        say("FAIL host-tests (cargo not found)")
        t.add("host-tests", failed=1)
        return
    env = dict(os.environ, CARGO_TERM_COLOR="never")
    for crate in crates:
        rel = os.path.relpath(crate, TOP)
        name = "cargo-test-" + rel.replace("/", "-")
        t0 = time.time()
        status, out = run([c, "test", "--release", "-j2", "--manifest-path",
                           os.path.join(crate, "Cargo.toml")],
                          os.path.join(LOGDIR, f"{name}.log"), env=env)
        p = f = ig = 0
        for m in re.finditer(r"test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored", out):
            p += int(m.group(1))
            f += int(m.group(2))
            ig += int(m.group(3))
        if status != 0 and f == 0:
            f = 1  # a build failure, or a crash outside the harness
        ok = "PASS" if f == 0 else "FAIL"
        say(f"{ok} cargo test {rel}: {p} passed, {f} failed, {ig} ignored ({time.time() - t0:.0f} s)")
        if f:
            say(tail(out))
        t.add(name, passed=p, failed=f, skipped=ig)
        extra = os.path.join(crate, "check-extra")
        if os.access(extra, os.X_OK):
            step_simple(t, "check-extra-" + rel.replace("/", "-"), [extra], env=env)


def unittest_step(t, name, module):
    log = os.path.join(LOGDIR, f"{name}.log")
    status, out = run([sys.executable, "-m", "unittest", "-v", module], log,
                      cwd=os.path.join(TOP, "tools", "testing"))
    m = re.search(r"Ran (\d+) tests?", out)
    n = int(m.group(1)) if m else 0
    fails = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", out))
    if status != 0 and fails == 0:
        fails = 1
    say(f"{'PASS' if fails == 0 else 'FAIL'} {name}: {n - fails} passed, {fails} failed")
    if fails:
        say(tail(out))
    t.add(name, passed=max(n - fails, 0), failed=fails)


def parse_header(path):
    """Returns (opts, [(machine patterns or None, QEMU args), ...])."""
    opts = {"timeout": "300", "smp": "2", "mem": "1024", "kunit": "", "machines": "",
            "kernel": ""}
    qemu = []
    with open(path) as f:
        for line in f:
            if line.startswith("# rvirtio-test:"):
                for kv in line.split(":", 1)[1].split():
                    k, _, v = kv.partition("=")
                    opts["machines" if k == "machine" else k] = v
            else:
                m = re.match(r"# rvirtio-qemu(?:\[([^\]]+)\])?:(.*)", line)
                if m:
                    pats = m.group(1).split(",") if m.group(1) else None
                    qemu.append((pats, shlex.split(m.group(2))))
    opts["kunit"] = [s for s in opts["kunit"].split(",") if s]
    opts["machines"] = [s for s in opts["machines"].split(",") if s]
    return opts, qemu


def qemu_args(qemu, machine):
    """The QEMU arguments of the header for one machine (None: the default)."""
    args = []
    for pats, a in qemu:
        if pats is None or any(fnmatch.fnmatchcase(machine or "pc", p) for p in pats):
            args += a
    return args


def vm_test_runs(script):
    """The runs of one script: [(name, machine or None)]. A script with more
    than one machine runs once per machine, named NAME@MACHINE."""
    name = os.path.basename(script)[:-3]
    machines = parse_header(script)[0]["machines"]
    if len(machines) <= 1:
        return [(name, machines[0] if machines else None)]
    return [(f"{name}@{m}", m) for m in machines]


def vm_tests(t, only):
    scripts = sorted(glob.glob(os.path.join(TOP, "tools", "testing", "vm", "*.sh")))
    runs = [(s, n, m) for s in scripts for n, m in vm_test_runs(s)]
    if only:
        # NAME selects every machine of a script, NAME@MACHINE one.
        known = {os.path.basename(s)[:-3] for s in scripts} | {n for _, n, _ in runs}
        unknown = set(only) - known
        if unknown:
            say(f"FAIL vm tests: no such test: {' '.join(sorted(unknown))} "
                f"(have: {' '.join(n for _, n, _ in runs)})")
            t.add("vm-select", failed=1)
        runs = [r for r in runs if r[1] in only or r[1].partition("@")[0] in only]
    # Kernel variants: built (kernel, modules, initramfs) once, and only for
    # the tests selected; a variant that does not build fails its tests.
    variants = {}
    for v in sorted({parse_header(s)[0]["kernel"] for s, _, _ in runs} - {""}):
        variants[v] = build_variant(t, v)
    # Two guests at a time: most VM tests wait on the guest more than they
    # compute, so two share the two cores well. Results print in order.
    jobs = int(os.environ.get("RVIRTIO_VM_JOBS", "2"))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(jobs, 1)) as pool:
        for out, counts in pool.map(lambda r: run_vm_test(*r, variants=variants), runs):
            say(out)
            t.add(*counts)


def build_variant(t, variant):
    """Builds a kernel variant's kernel, modules and initramfs; returns
    (kernel image, initramfs), or None when they did not build."""
    t0 = time.time()
    name = f"initramfs-{variant}"
    log = os.path.join(LOGDIR, f"{name}.log")
    status, out = run(["make", "-s", "initramfs", f"KVARIANT={variant}"], log)
    if status == 0:
        status, image = run(["make", "-s", "kernel-image", f"KVARIANT={variant}"],
                            os.path.join(LOGDIR, f"kernel-image-{variant}.log"))
        image = image.strip().splitlines()[-1] if status == 0 and image.strip() else ""
    if status != 0 or not os.path.exists(image):
        say(f"FAIL {name} (status {status}; log build/test-logs/{name}.log)\n{tail(out)}")
        t.add(name, failed=1)
        return None
    say(f"PASS {name} ({time.time() - t0:.0f} s)")
    t.add(name, passed=1)
    return image, os.path.join(TOP, "build", variant, "initramfs.cpio")


KASAN_REPORT = re.compile(r"BUG: KASAN: |KASAN: .*(?:use-after-free|out-of-bounds)")


def run_vm_test(script, name, machine, variants=None):
    """Runs one VM test on one machine (None: the runner's default); returns
    (report text, (name, passed, failed, skipped))."""
    opts, qemu = parse_header(script)
    qemu = qemu_args(qemu, machine)
    log = os.path.join(LOGDIR, f"vm-{name}.log")
    variant = opts["kernel"]
    if variant and not (variants or {}).get(variant):
        return (f"FAIL vm {name} (the {variant} kernel variant did not build)",
                ("vm-" + name, 0, 1, 0))
    images = []
    for i, size in enumerate(s for s in opts.get("disks", "").split(",") if s):
        img = os.path.join(LOGDIR, f"vm-{name}-disk{i}.img")
        if os.path.exists(img):
            os.unlink(img)
        subprocess.run(["qemu-img", "create", "-q", "-f", "raw", img, size], check=True)
        images.append(img)
    for i, img in enumerate(images):
        qemu = [a.replace(f"@DISK{i}@", img) for a in qemu]
    cmd = [os.path.join(TOP, "tools", "vm", "run"), "--quiet", "--log", log, "--name", name,
           "--timeout", opts["timeout"], "--smp", opts["smp"], "--mem", opts["mem"]]
    if machine:
        cmd += ["--machine", machine]
    if opts.get("net"):
        cmd += ["--net", opts["net"]]
    if opts.get("sockets"):
        cmd += ["--sockets", opts["sockets"]]
    host = script[:-3] + ".host"
    if os.path.exists(host):
        cmd += ["--host", host]
    if variant:
        image, initrd = variants[variant]
        cmd += ["--kernel", image, "--initrd", initrd]
    if opts.get("append"):
        cmd += ["--append", opts["append"].replace(",", " ")]
    cmd += [script, "--"] + qemu
    t0 = time.time()
    p = subprocess.run(cmd, cwd=TOP, capture_output=True, text=True)
    dt = time.time() - t0
    for img in images:
        os.unlink(img)
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            console = f.read()
    except OSError:
        console = ""
    buf = io.StringIO()
    kp, kf, ks = ktap.report(ktap.parse(console.splitlines()), opts["kunit"], out=buf)
    kunit_lines = buf.getvalue().splitlines()[:-1]
    script_ok = p.returncode == 0
    why = "" if script_ok else f" script status {p.returncode}"
    kasan = KASAN_REPORT.search(console)
    if kasan:
        # A report that did not stop the guest (panic_on_warn does) is a
        # failure all the same.
        script_ok = False
        why += f" KASAN report: {kasan.group(0).strip()}"
    verdict = "PASS" if script_ok and kf == 0 else "FAIL"
    out = [f"{verdict} vm {name} ({dt:.0f} s{';' + why if why else ''}; kunit {kp} passed, {kf} failed)"]
    for line in kunit_lines:
        if verdict == "FAIL" or "ok (" not in line:
            out.append("    " + line)
    if not script_ok:
        out.append("    " + p.stderr.strip().replace("\n", "\n    "))
        out.append(tail(console) + f"\n    (whole log: build/test-logs/vm-{name}.log)")
    counts = ("vm-" + name, (1 if script_ok else 0) + kp, (0 if script_ok else 1) + kf, ks)
    return "\n".join(out), counts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="", help="space-separated VM test names; skips the other steps")
    args = ap.parse_args()
    only = args.only.split()
    os.makedirs(LOGDIR, exist_ok=True)
    t = Tally()
    t_start = time.time()

    built = step_simple(t, "modules-clippy", ["make", "-s", "modules", "CLIPPY=1"])
    if not only:
        step_simple(t, "rustfmt", ["make", "-s", "fmt-check"])
        host_tests(t)
        unittest_step(t, "ktap-collector-selftest", "test_ktap")
        unittest_step(t, "bench-selftest", "test_bench")
    if built and step_simple(t, "initramfs", ["make", "-s", "initramfs"]):
        if not only:
            unittest_step(t, "vm-runner-selftest", "test_vm_runner")
        vm_tests(t, only)
    else:
        say("FAIL vm tests not run: the modules or the initramfs did not build")
        t.add("vm-tests", failed=1)

    say(f"check: {time.time() - t_start:.0f} s; logs in build/test-logs/")
    if t.failures:
        say("failed: " + " ".join(t.failures))
    line = f"{t.passed} passed, {t.failed} failed"
    if t.skipped:
        line += f", {t.skipped} skipped"
    say(line)
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
