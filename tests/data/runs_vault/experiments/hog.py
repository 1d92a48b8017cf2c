"""Allocates without bound: the memory limit must stop it."""

PARAMS = {}


def run(params, seed, outdir):
    blocks = []
    while True:
        blocks.append(bytearray(64 * 1024 * 1024))
