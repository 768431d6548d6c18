"""Maps python/gensemcom onto the import name gnuradio.gensemcom (metadata is in pyproject.toml)."""
from setuptools import find_packages, setup

packages = ["gnuradio.gensemcom" + name[len("gensemcom"):]
            for name in find_packages("python", include=["gensemcom", "gensemcom.*"])]
setup(packages=packages, package_dir={"gnuradio.gensemcom": "python/gensemcom"})
