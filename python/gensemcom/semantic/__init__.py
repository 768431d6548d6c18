"""Semantic codec (layer 1): pure Python/torch, no GNU Radio import."""
