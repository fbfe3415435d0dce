"""The engine behind outrun preview / up / destroy.

``active`` is the deployment of the run in progress (or None): the SDK's
resource classes read it on every construction, so it lives here, where
importing it costs nothing.
"""

from typing import Any

active: Any = None
