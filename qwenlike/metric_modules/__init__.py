"""Hugging Face `evaluate` module folders, one per metric: evaluate.load(qwenlike.metrics.module_path(name)).

A package (with __init__.py files) only so that setuptools ships the scripts; nothing imports it.
"""
