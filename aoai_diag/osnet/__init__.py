"""What the operating system itself decides: which DNS server answers a name, which route carries a packet, and
what the VPN profile the user imported promises.

Each reader is a thin adapter (`commands.run` plus one OS command) over a pure parser, so the parsers are tested on
any OS with real command outputs and real profile files (tests/test_osnet_*.py).
"""
