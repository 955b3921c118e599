"""Speak about music: captions and answers written from MusicFacts (built-in NLG or an LLM backend)."""
