"""promptctl: git-native prompt-as-code."""
__version__ = "0.1.0"
