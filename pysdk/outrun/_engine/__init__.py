"""The engine behind outrun preview / up / destroy: one implementation of
the registration interface (``outrun._monitor``), with the state and the
display behind it.  Nothing of the resource model imports this package.
"""
