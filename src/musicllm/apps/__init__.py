"""musicllm.apps."""
