"""musicllm.analysis."""
