"""Errors a user can cause. The CLI prints them as one line and exits with code 2."""


class MusicLLMError(Exception):
    """Base for user-caused errors: bad input files, bad options, unparsable notation.

    The message is one line that names the offending file or option.
    """


class AudioError(MusicLLMError):
    """An audio input that cannot be used (missing, unreadable, silent, too short, bad format)."""


class NotationError(MusicLLMError):
    """A score file (ABC, MIDI, MusicXML, JSON) that cannot be read."""


class MissingDependencyError(MusicLLMError):
    """An optional dependency is not installed; the message names the exact install command."""
