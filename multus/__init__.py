"""multus: a CNI meta-plugin that attaches several networks to one container."""

__version__ = "0.1.0"
