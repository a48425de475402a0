"""A fake Vobiz API (recordings, CDRs, audio) served over real HTTP; see server.py and data.py."""

from vobiz.fake.data import FakeAccount
from vobiz.fake.server import FAULT_KINDS, FakeVobizServer

__all__ = ["FAULT_KINDS", "FakeAccount", "FakeVobizServer"]
