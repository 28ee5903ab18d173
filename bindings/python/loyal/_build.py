"""Builds loyal._loyal with cffi: the engine's C sources are compiled into the extension itself
(no libloyal to install or to find at run time), and the C declarations come from the public
headers, run through the C preprocessor, so that they cannot drift from the library.

The sources are in csrc/: links to the repository's include/ and lib/ in a clone, copies of
them in an sdist. They need the development files of SQLite, jansson, xxHash
and libpq (Debian: libsqlite3-dev libjansson-dev libxxhash-dev libpq-dev) and pkg-config."""

import glob
import os
import re
import shlex
import subprocess
import tempfile

from cffi import FFI

DEPENDENCIES = ["sqlite3", "jansson", "libxxhash", "libpq"]


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, *DEPENDENCIES], check=True,
                             capture_output=True, text=True).stdout
    except OSError:
        raise RuntimeError("pkg-config is missing (Debian: apt-get install pkg-config)")
    except subprocess.CalledProcessError as error:
        raise RuntimeError("the development files of SQLite, jansson, xxHash or libpq are "
                           "missing (Debian: apt-get install libsqlite3-dev libjansson-dev "
                           f"libxxhash-dev libpq-dev): {error.stderr.strip()}")
    return shlex.split(out)


def declarations(include_dir):
    """The public declarations, preprocessed, plus the integer macros cffi can take."""
    with tempfile.TemporaryDirectory() as stubs:
        for name in ("stddef.h", "stdint.h"):  # cffi knows these types already
            open(os.path.join(stubs, name), "w").close()
        text = subprocess.run(
            [os.environ.get("CC", "cc"), "-E", "-P", "-nostdinc", "-I", stubs, "-I",
             include_dir, "-DLOYAL_API=", os.path.join(include_dir, "loyal.h")],
            check=True, capture_output=True, text=True).stdout
    macros = []
    for header in sorted(glob.glob(os.path.join(include_dir, "loyal", "*.h"))):
        with open(header) as source:
            for match in re.finditer(r"^#define (LOYAL_[A-Z0-9_]+) (0x[0-9a-fA-F]+|\d+)u?\s*(/\*.*)?$",
                                     source.read(), re.M):
                macros.append(f"#define {match.group(1)} {match.group(2)}")
    callbacks = """extern "Python" int64_t _loyal_python_clock(void *);
extern "Python" void _loyal_python_grant_progress(void *, int64_t, int64_t);
extern "Python" void _loyal_python_grant_refused(void *, const char *, int, const char *,
                                                 const char *);
extern "Python" int _loyal_python_stoppable_progress(void *, int64_t, int64_t);
extern "Python" int _loyal_python_whatif_difference(void *, const char *);"""
    return "\n".join(macros) + "\n" + text + "\n" + callbacks


ROOT = "csrc"  # relative to setup.py's folder, where setuptools runs this
INCLUDE_DIR = os.path.join(ROOT, "include")
SOURCES = sorted(glob.glob(os.path.join(ROOT, "lib", "*", "*.c")) +
                 glob.glob(os.path.join(ROOT, "lib", "*", "*", "*.c")))
CFLAGS, LIBS = pkg_config("--cflags"), pkg_config("--libs")

ffibuilder = FFI()
ffibuilder.cdef(declarations(INCLUDE_DIR))
ffibuilder.set_source(
    "loyal._loyal", "#include <loyal.h>",
    sources=SOURCES,
    include_dirs=[INCLUDE_DIR, os.path.join(ROOT, "lib")],
    define_macros=[("LOYAL_BUILDING", None), ("_POSIX_C_SOURCE", "200809L")],
    extra_compile_args=["-std=c11", "-fvisibility=hidden", *CFLAGS],
    extra_link_args=[*LIBS, "-lm"])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
