"""The cells' kernels (``rtrl/_cells.pyx``) expose no Python-level functions: they are C
functions cimported by ``rtrl._core``."""
