"""The two facts of a shared library that decide which libhdf5 it runs with.

A plugin linked against libhdf5 names it in a DT_NEEDED entry. When the plugin
is loaded, the dynamic linker first looks for an already loaded object whose
DT_SONAME matches that name: so a linked plugin shares h5py's libhdf5 exactly
when h5py's library's SONAME is among the plugin's DT_NEEDED, and otherwise
drags a second HDF5 library into the process. Reading both from the files
tells us which before anything is loaded.

Only 64-bit little-endian ELF (x86-64, aarch64) is read; anything else reads
as "no entries".
"""

import struct

_SHT_DYNAMIC = 6
_DT_NULL, _DT_NEEDED, _DT_SONAME = 0, 1, 14


def dynamic_names(path):
    """Returns (soname or None, [needed...]) of the shared library at `path`."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None, []
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None, []
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link
        fields = struct.unpack_from("<IIQQQQI", data, shoff + i * shentsize)
        sections.append(fields)
    soname, needed = None, []
    for _, sh_type, _, _, offset, size, link in sections:
        if sh_type != _SHT_DYNAMIC or link >= len(sections):
            continue
        strtab = sections[link][4]

        def string(at):
            end = data.index(b"\0", strtab + at)
            return data[strtab + at:end].decode("utf-8", "replace")

        for pos in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == _DT_NULL:
                break
            if tag == _DT_NEEDED:
                needed.append(string(value))
            elif tag == _DT_SONAME:
                soname = string(value)
    return soname, needed


def is_libhdf5(name):
    """True for libhdf5's file or SONAME (also a wheel's renamed copy), not
    for its companions (libhdf5_hl, libhdf5_fortran, ...)."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith("libhdf5.") or base.startswith("libhdf5-")
