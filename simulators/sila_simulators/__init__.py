"""Stand-ins for the third parties Sila talks to (SMS centre, push, mail, payment providers),
speaking their real protocols over HTTP and TCP, for tests, benchmarks and ``make run``.

Never imported by a service. See simulators/README.md for the layout and how to add one.
"""
