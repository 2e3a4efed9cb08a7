"""Self-test of tools/vm/run: it must report what the guest did.

Boots real VMs (a few seconds each): a script's exit status comes back, a
hung guest is killed and reported as hung (124), a guest that panics is
reported as ending without a status (125) unless its script announced the
panic (RVIRTIO-EXPECT-PANIC: 0), a guest the boot watchdog
kills leaves no QEMU behind, and the exit status comes back from microvm
(virtio-mmio) with and without ACPI. Needs the initramfs
(`make initramfs`).
"""

import os
import subprocess
import tempfile
import unittest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN = os.path.join(TOP, "tools", "vm", "run")


def boot(script, *args, env=None, qemu=()):
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        p = subprocess.run([RUN, "--quiet", "--log", path + ".log", *args, path, "--", *qemu],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, **(env or {})))
        with open(path + ".log") as f:
            log = f.read()
        return p.returncode, p.stderr, log
    finally:
        for x in (path, path + ".log"):
            if os.path.exists(x):
                os.unlink(x)


class RunnerTest(unittest.TestCase):
    def test_exit_status_is_returned(self):
        rc, _, log = boot("echo guest-says-hello; exit 3\n")
        self.assertEqual(rc, 3)
        self.assertIn("guest-says-hello", log)

    def test_success_is_zero(self):
        rc, _, _ = boot('. "$RVIRTIO_LIB"; check "true runs" true\n')
        self.assertEqual(rc, 0)

    def test_failed_check_fails_the_script(self):
        rc, _, log = boot('. "$RVIRTIO_LIB"; check "false fails" false; echo not-reached\n')
        self.assertEqual(rc, 1)
        self.assertIn("FAIL: false fails", log)
        self.assertNotIn("not-reached", log)

    def test_microvm_exit_status_is_returned(self):
        # ACPI describes the virtio-mmio transport as LNRO0005; the runner
        # gave the TSC rate that keeps the boot from hanging.
        rc, _, log = boot('echo "on $RVIRTIO_MACHINE"; ls /sys/bus/platform/devices; cat /proc/cmdline; exit 5\n',
                          "--machine", "microvm-v2", "--timeout", "120",
                          qemu=("-device", "virtio-rng-device"))
        self.assertEqual(rc, 5)
        self.assertIn("on microvm-v2", log)
        self.assertIn("LNRO0005:00", log)
        self.assertIn("tsc_early_khz=", log)

    def test_microvm_noacpi_exit_status_is_returned(self):
        # Without ACPI the guest reboots instead of powering off, and QEMU
        # appends the transports to the kernel command line.
        rc, _, log = boot("cat /proc/cmdline; exit 4\n", "--machine", "microvm-noacpi",
                          "--timeout", "120", qemu=("-device", "virtio-rng-device"))
        self.assertEqual(rc, 4)
        self.assertRegex(log, r"virtio_mmio\.device=512@0x[0-9a-f]+:[0-9]+")

    def test_hung_guest_is_killed_and_named(self):
        rc, err, _ = boot("sleep 1000\n", "--timeout", "8", "--name", "sleepy")
        self.assertEqual(rc, 124)
        self.assertIn("test 'sleepy' hung", err)

    def test_boot_watchdog_leaves_no_qemu(self):
        # A boot watchdog of 1 s fires on every attempt (a TCG boot takes
        # longer); each killed attempt must take its QEMU with it.
        marker = f"rvselftest.watchdog={os.getpid()}"
        rc, err, _ = boot("exit 0\n", "--append", marker, "--name", "stall",
                          env={"RVIRTIO_BOOT_TIMEOUT": "1"})
        self.assertEqual(rc, 125)
        self.assertIn("test 'stall': the guest did not boot in 3 attempts", err)
        left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
        self.assertEqual(left.stdout, "", "QEMU processes left running")

    def test_panic_is_not_success(self):
        rc, err, _ = boot("echo c > /proc/sysrq-trigger; sleep 30\n", "--timeout", "60")
        self.assertEqual(rc, 125)
        self.assertIn("without reporting an exit status", err)

    def test_announced_panic_is_success(self):
        rc, err, _ = boot("echo RVIRTIO-EXPECT-PANIC; echo c > /proc/sysrq-trigger; sleep 30\n",
                          "--timeout", "60")
        self.assertEqual(rc, 0)
        self.assertIn("panicked after RVIRTIO-EXPECT-PANIC", err)

    def test_announced_panic_that_does_not_come_is_not_success(self):
        rc, err, _ = boot("echo RVIRTIO-EXPECT-PANIC; poweroff -f\n", "--timeout", "60")
        self.assertEqual(rc, 125)
        self.assertIn("without reporting an exit status", err)


if __name__ == "__main__":
    unittest.main()
