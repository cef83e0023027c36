"""``python -m promptctl``."""

from promptctl.cli import entry

if __name__ == "__main__":
    entry()
