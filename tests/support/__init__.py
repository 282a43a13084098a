"""Helpers and factories the tests share; ``tests/conftest.py`` holds fixtures only.

- ``app``: the test secret, the frozen start instant, ``client_for`` (an HTTP client on an app)
- ``databases``: service URLs, reachability, PostgreSQL admin, ``DatabaseProbe``, fresh databases
- ``assertions``: the error envelope, instants, e-mail samples
- ``factories``: request bodies, issued keys, ``home(…)`` on a plan
- ``catalog``: utility and rate-plan ids of the shipped catalog
- ``policies``: issuing policies the tests build (``relaxed_policy``)
- ``servers``, ``private_services``: real server processes, private PostgreSQL and Redis
"""
