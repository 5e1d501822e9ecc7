"""Catalogues of realistic wrong implementations, one module per assignment (see catalogue.py)."""
