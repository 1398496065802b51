"""The node daemon ("thick" mode): one long-lived process per node, behind a unix socket.

It holds the API client and watch-fed caches of the node's pods and all NADs, and runs the very
same Multus code as the thin plugin for each request the shim forwards. Imported only by
`multus daemon`; the shim and the thin plugin never load it.
"""
