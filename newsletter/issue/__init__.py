"""The issue: source files, Markdown, templates, rendering once per issue, checks."""
