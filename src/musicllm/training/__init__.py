"""Training recipes (short, hackable scripts over the library): key model, ABC language model."""
