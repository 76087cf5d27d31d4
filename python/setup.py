"""Builds libAgoraC.so with SwiftPM (Swift runtime linked statically) into the package.

`pip install ./python` on a machine with Swift 6 and OpenBLAS compiles the library from the
repository this folder belongs to (AGORA_SOURCE_ROOT overrides where that is); AGORA_ML_LIBRARY
set to an existing libAgoraC.so skips the build and packages that file instead.
"""
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - wheel is present where wheels are built
    bdist_wheel = None

HERE = os.path.dirname(os.path.abspath(__file__))


class BuildWithSwift(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "agora_ml", "_lib")
        os.makedirs(target, exist_ok=True)
        prebuilt = os.environ.get("AGORA_ML_LIBRARY")
        if prebuilt:
            library = prebuilt
        else:
            root = os.environ.get("AGORA_SOURCE_ROOT", os.path.dirname(HERE))
            scratch = os.path.join(root, ".build-python")
            subprocess.check_call(["swift", "build", "-c", "release", "--package-path", root, "--scratch-path", scratch,
                                   "--product", "AgoraC", "-Xswiftc", "-static-stdlib"])
            library = os.path.join(scratch, "release", "libAgoraC.so")
        shutil.copy2(library, os.path.join(target, "libAgoraC.so"))


class BinaryDistribution(Distribution):
    """The package holds a compiled library: a platform wheel, installed into platlib."""

    def has_ext_modules(self):
        return True


commands = {"build_py": BuildWithSwift}
if bdist_wheel is not None:
    class PlatformWheel(bdist_wheel):
        """ctypes loads the library: any Python 3 on this platform can use the wheel."""

        def get_tag(self):
            _, _, platform = super().get_tag()
            return "py3", "none", platform

    commands["bdist_wheel"] = PlatformWheel

setup(cmdclass=commands, distclass=BinaryDistribution)
