# SPDX-License-Identifier: GPL-3.0-or-later
"""Maps python/gensemcom onto the import name gnuradio.gensemcom (metadata is in pyproject.toml).

The version comes from python/gensemcom/version.py (CMake reads the same file); the QA files
qa_*.py are ctest's and stay out of the wheel; link profiles and PER tables are package data;
the model cards (models/*.yaml) and the adapters they ship (models/adapters/NAME/) go to
share/gr-gensemcom/models, where CMake puts them too.
"""
import re
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
VERSION = re.search(r'^__version__ = "([^"]+)"', (ROOT / "python/gensemcom/version.py").read_text(), re.M).group(1)


class build_py_without_qa(build_py):
    def find_package_modules(self, package, package_dir):
        return [m for m in super().find_package_modules(package, package_dir) if not m[1].startswith("qa_")]


packages = ["gnuradio.gensemcom" + name[len("gensemcom"):]
            for name in find_packages("python", include=["gensemcom", "gensemcom.*"])]
setup(version=VERSION, packages=packages, package_dir={"gnuradio.gensemcom": "python/gensemcom"},
      package_data={"gnuradio.gensemcom.link": ["profiles/*.yaml"], "gnuradio.gensemcom.phy": ["*.yaml"]},
      data_files=[("share/gr-gensemcom/models", sorted(str(p) for p in Path("models").glob("*.yaml")))]
      + [(f"share/gr-gensemcom/models/adapters/{d.name}", sorted(str(p) for p in d.iterdir() if p.is_file()))
         for d in sorted(Path("models/adapters").glob("*")) if d.is_dir()],
      cmdclass={"build_py": build_py_without_qa})
