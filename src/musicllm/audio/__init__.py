"""musicllm.audio."""
