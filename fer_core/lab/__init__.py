"""Training, model cards and evaluation: never imported by the product at analysis time."""
