"""Builds loyal._loyal with cffi: the C declarations come from the public headers themselves,
run through the C preprocessor, so that they cannot drift from the library."""

import os
import re
import shlex
import subprocess
import tempfile

from cffi import FFI

HEADERS = ["common.h", "db.h", "cursor.h", "criteria.h", "ledger.h", "members.h",
           "program.h", "events.h", "rewards.h", "coupons.h", "grants.h",
           "leaderboards.h", "outbox.h"]


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "loyal"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def locate():
    """Returns (include_dir, library_dir) of libloyal."""
    include = os.environ.get("LOYAL_INCLUDE_DIR")
    library = os.environ.get("LOYAL_LIBRARY_DIR")
    if include and library:
        return include, library
    cflags, libs = pkg_config("--cflags"), pkg_config("--libs")
    if cflags is None or libs is None:
        raise RuntimeError("cannot find libloyal: set PKG_CONFIG_PATH to the directory of "
                           "loyal.pc (build/uninstalled in a build tree), or set "
                           "LOYAL_INCLUDE_DIR and LOYAL_LIBRARY_DIR")
    include = next((flag[2:] for flag in cflags if flag.startswith("-I")), "/usr/include")
    library = next((flag[2:] for flag in libs if flag.startswith("-L")), "/usr/lib")
    return include, library


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
    for header in HEADERS:
        with open(os.path.join(include_dir, "loyal", header)) as source:
            for match in re.finditer(r"^#define (LOYAL_[A-Z0-9_]+) (0x[0-9a-fA-F]+|\d+)u?\s*(/\*.*)?$",
                                     source.read(), re.M):
                macros.append(f"#define {match.group(1)} {match.group(2)}")
    callbacks = """extern "Python" int64_t _loyal_python_clock(void *);
extern "Python" void _loyal_python_grant_progress(void *, int64_t, int64_t);
extern "Python" void _loyal_python_grant_refused(void *, const char *, int, const char *,
                                                 const char *);"""
    return "\n".join(macros) + "\n" + text + "\n" + callbacks


INCLUDE_DIR, LIBRARY_DIR = locate()
ffibuilder = FFI()
ffibuilder.cdef(declarations(INCLUDE_DIR))
ffibuilder.set_source(
    "loyal._loyal", "#include <loyal.h>",
    include_dirs=[INCLUDE_DIR], library_dirs=[LIBRARY_DIR], libraries=["loyal"],
    extra_link_args=[f"-Wl,-rpath,{LIBRARY_DIR}"])

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
