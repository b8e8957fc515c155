"""The two networks, their registry and cards, inference engines, metrics and calibration."""
