"""Media reading, faces (detection, crops, tracking) and pictures."""
