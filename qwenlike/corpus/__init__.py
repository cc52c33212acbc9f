"""Offline corpus for the 30 tasks: TTS speech, recorded words and sounds, rendered music and
mixed scenes, built into a datasets DatasetDict by `qwenlike corpus build` (see build.py), plus
loaders for the public corpora in their published layouts (loaders.py)."""
