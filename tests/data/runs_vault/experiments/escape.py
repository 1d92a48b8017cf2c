"""Tries to write outside its run folder and to reach the network; reports what it managed."""

PARAMS = {"target": "/tmp/kg-escape-test"}


def run(params, seed, outdir):
    import socket

    wrote = 0
    try:
        with open(params["target"], "w") as f:
            f.write("escaped")
        wrote = 1
    except OSError:
        wrote = 0
    try:
        socket.create_connection(("127.0.0.1", 9), timeout=1).close()
        net = 1
    except OSError as exc:
        net = 0 if "unreachable" in str(exc).lower() or exc.errno in (101, 99) else -1
    return {"wrote_outside": wrote, "network": net}
