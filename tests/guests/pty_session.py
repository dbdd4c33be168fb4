"""Drives an interactive program on a pseudo-terminal, as a person at a terminal would.

Usage: pty_session.py STEPS.json PROGRAM [ARGS...]

STEPS.json is a list of [text to type, regular expression to wait for in the output after
it]. The program runs as the session leader with the pty's slave as its controlling
terminal. Prints the whole transcript, then `exit status N` or `killed by signal N` (or
`timeout waiting for R` when an expectation is not met within 60 s: the hang breaker, not a
measurement). Exits 0 if every expectation was met.
"""
import json, os, pty, re, select, signal, sys, time

def main():
    steps = json.load(open(sys.argv[1]))
    argv = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(argv[0], argv)
    out = b""
    seen = 0  # where the next expectation starts looking

    def wait_for(pattern):
        nonlocal out, seen
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + 60
        while True:
            m = regex.search(out, seen)
            if m:
                seen = m.end()
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if not data:
                return False
            out += data

    ok = True
    for text, pattern in steps:
        if text:
            os.write(fd, text.encode())
        if pattern and not wait_for(pattern):
            out += ("\n<<timeout waiting for %r>>\n" % pattern).encode()
            ok = False
            break
    if ok:
        # Read what is left until the program closes the terminal.
        while True:
            try:
                ready, _, _ = select.select([fd], [], [], 60)
                data = os.read(fd, 65536) if ready else b""
            except OSError:
                data = b""
            if not data:
                break
            out += data
    else:
        os.killpg(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    sys.stdout.write(out.decode(errors="replace").replace("\r\n", "\n"))
    if os.WIFEXITED(status):
        print("\nexit status %d" % os.WEXITSTATUS(status))
    else:
        print("\nkilled by signal %d" % os.WTERMSIG(status))
    sys.exit(0 if ok else 1)

main()
