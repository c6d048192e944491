"""The ``legato`` command line: typer commands that print with rich.

Nothing below this package imports it: the engine knows nothing of terminals.
"""
