"""Renderers take a finished Report and return text; they never compute verdicts or exit codes."""
