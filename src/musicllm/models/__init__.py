"""Torch modules and model wrappers (taggers, ...); import what you need from the submodules."""
