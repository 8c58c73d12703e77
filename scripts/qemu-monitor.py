#!/usr/bin/env python3
"""qemu-monitor.py: sends commands to a QEMU monitor on a Unix socket and prints its answers.

    scripts/qemu-monitor.py SOCKET COMMAND [COMMAND...]

SOCKET is where QEMU was told to listen (-monitor unix:SOCKET,server=on,wait=off, or
`make run MONITOR=SOCKET`). Each COMMAND is one monitor line, e.g. 'set_link n0 off', 'stop',
'pmemsave 0x73f000 33554432 "/tmp/rec.bin"' (file names in quotes: the monitor reads the size
as an expression, where / divides). Exits 1 when the socket cannot be reached, 2 on bad usage.
"""
import socket
import sys
import time


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) > 1 and argv[1] in ("-h", "--help") else 2
    path, commands = argv[1], argv[2:]
    try:
        connection = socket.socket(socket.AF_UNIX)
        connection.connect(path)
    except OSError as error:
        sys.stderr.write(f"qemu-monitor.py: cannot reach the monitor at {path}: {error}\n")
        return 1
    connection.settimeout(2)
    answers = b""
    for command in commands:
        connection.sendall(command.encode() + b"\n")
        # The monitor answers asynchronously; a pause lets a command like pmemsave finish.
        time.sleep(0.3)
    try:
        while True:
            chunk = connection.recv(65536)
            if not chunk:
                break
            answers += chunk
    except socket.timeout:
        pass
    sys.stdout.write(answers.decode(errors="replace"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
