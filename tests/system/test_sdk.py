"""The driver SDK from outside the tree: install it, build a driver with pkg-config, load it."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from pktdtest import BUILD, Daemon, eventually  # noqa: E402

SOURCE = os.path.join(os.path.dirname(__file__), "..", "..")


class OutOfTreeDriver(unittest.TestCase):
    def test_installed_sdk_builds_a_driver_that_loads(self):
        prefix = tempfile.mkdtemp(prefix="pktd-sdk-")
        try:
            subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], check=True,
                           capture_output=True)
            env = dict(os.environ, PKG_CONFIG_PATH=os.path.join(prefix, "lib", "pkgconfig"))
            cflags = subprocess.run(["pkg-config", "--cflags", "pktd-driver"], env=env, check=True,
                                    capture_output=True, text=True).stdout.split()
            self.assertTrue(any(f.startswith("-I") and f.endswith("/include") for f in cflags), cflags)
            drivers = os.path.join(prefix, "mydrivers")
            os.makedirs(drivers)
            os.chmod(drivers, 0o755)
            so = os.path.join(drivers, "devnp-oot.so")
            subprocess.run(["cc", "-shared", "-fvisibility=hidden", *cflags, "-o", so,
                            os.path.join(SOURCE, "tests", "loader", "testnic.c")], check=True)
            d = Daemon("-t", "1", "-D", drivers, "-d", "oot,count=1")
            try:
                d.wait_ready()
                self.assertIn("tn0: attached", d.output())
                self.assertIn("driver testnic loaded from " + so, d.output())
                self.assertEqual(d.stop(), 0)
            finally:
                d.close()
        finally:
            shutil.rmtree(prefix)


if __name__ == "__main__":
    unittest.main(verbosity=2)
