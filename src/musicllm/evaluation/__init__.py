"""musicllm.evaluation."""
