"""What the tool keeps on disk: config, credentials, cache and journal.

Each module is imported on its own, so a command only pays for the stores it
uses; heavy libraries (keyring, filelock) load inside the functions that need
them.
"""
