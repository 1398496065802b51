"""Multus logic: configuration, delegate resolution, execution and state."""
