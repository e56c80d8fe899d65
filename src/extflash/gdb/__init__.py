"""A GDB remote-protocol server for the virtual board (see :mod:`extflash.gdb.server`)."""
