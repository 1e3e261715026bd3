"""The sandbox's bundled example: some work, then two things the sandbox refuses."""

import socket

primes = [n for n in range(2, 60) if all(n % d for d in range(2, int(n**0.5) + 1))]
print("primes below 60:", primes)

with open("notes.txt", "w") as f:  # inside the private folder: allowed
    f.write("ok")
print("wrote notes.txt in the private folder")

try:
    socket.create_connection(("example.com", 80), timeout=2)
    print("network: reachable")
except OSError as exc:
    print("network:", exc)
