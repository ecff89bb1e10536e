"""The server's endpoints, one router per module, grouped by the scope they need.

``create_app`` mounts :data:`serving.router` and :data:`reports.router` behind the ``read``
scope, :data:`write.router` behind ``write`` and :data:`ops.router` open. A new endpoint goes in
the module of its scope: ``/feedback`` in ``write``, ``/reports/skew|drift|performance`` in
``reports``.
"""
