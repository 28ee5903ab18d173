# setup.py - builds the cffi extension (loyal/_build.py) with the engine's C sources in it.
# csrc/ holds links to the repository's include/, lib/ and LICENSE; an sdist carries copies.
from setuptools import setup

setup(cffi_modules=["loyal/_build.py:ffibuilder"])
