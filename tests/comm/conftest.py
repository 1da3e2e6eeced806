"""Set-up shared by the communication tests.

Its presence puts ``tests/comm`` on ``sys.path`` (pytest's default import
mode), so the tests in ``tests/comm/ddp`` and ``tests/comm/gpu`` can import
the shared helpers of :mod:`test_collectives` as the top-level tests do.
"""
