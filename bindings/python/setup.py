# setup.py - builds the cffi extension (loyal/_build.py) with the package.
from setuptools import setup

setup(cffi_modules=["loyal/_build.py:ffibuilder"])
