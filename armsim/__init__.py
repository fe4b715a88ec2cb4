"""armsim: a local Azure Resource Manager simulator for vmdr's tests and demo (never deployed).

It speaks, over HTTPS on 127.0.0.1, the subset of ARM that vmdr uses, so that the real
azure-mgmt-compute / -network / -trafficmanager clients work unchanged. See armsim/README.md.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
