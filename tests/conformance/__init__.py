"""Conformance tests against R (a package, so its module names may repeat those in tests/)."""
