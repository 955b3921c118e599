"""Generation: prompts -> :class:`~musicllm.generation.controls.Controls`, score editing.

- :mod:`musicllm.generation.controls`: free text -> ``Controls`` (key, meter, tempo, instrument, tune
  type, mood, length...), rules plus MiniLM embeddings for the words the rules miss.
- :mod:`musicllm.generation.edit`: ``Score`` + instruction -> ``Score`` (transpose, key / mode, tempo,
  instrument, meter, length, simplify), as Python functions and from instruction text.

Import the submodules you need; this package imports nothing heavy.
"""
