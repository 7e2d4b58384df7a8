"""The simulated board and deployer: ``python -m sim`` (see sim/README.md)."""

# The board's 64 KiB MicroPython heap (DESIGN.md) as a heap for this 64-bit unix port:
# every object reference and GC block is twice the size of the 32-bit STM32's, while
# bytecode and string bytes are not, so the same program takes about 1.5 times the heap
# here. Every tool that runs the firmware under the unix port caps its heap at this.
BOARD_HEAP = "96k"
