"""musicllm.data."""
