"""Byte-faithful device simulators, attachable to a pty pair or a loopback TCP port."""
