"""Tries to write outside its run folder and to reach the network; reports what it managed."""

PARAMS = {"target": "/var/tmp/kg-escape-test"}


def run(params, seed, outdir):
    import socket

    try:
        with open(params["target"], "w") as f:
            f.write("escaped")
        wrote = 1
    except OSError:
        wrote = 0
    try:
        with open(f"{outdir}/inside.txt", "w") as f:
            f.write("fine")
        inside = 1
    except OSError:
        inside = 0
    try:
        socket.create_connection(("127.0.0.1", 22), timeout=1).close()
        net = 1
    except OSError:
        net = 0
    return {"wrote_outside": wrote, "wrote_inside": inside, "network": net}
