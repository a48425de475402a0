"""Data-subject requests: a person's request for a copy of their calls, or for their erasure, handled
from the first search to a proof of what was done."""
