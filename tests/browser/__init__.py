"""The playground page in a real headless Chromium."""
