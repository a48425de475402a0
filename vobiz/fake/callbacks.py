"""The fake Vobiz's callbacks: a new call now and then, a signed recording callback for it, and a
transcription callback a little later, as Vobiz sends them (see /work/shared/vobiz-api.md).

Signed as Vobiz signs (V2 and V3 over the URL the callback is sent to, as the dashboard's public
address spells it, and a random 20-digit nonce), and form-encoded with the <Record> action's
CamelCase fields. The body's figures are the fake's own; the dashboard must fetch the recording
from the API anyway.
"""

import base64
import hashlib
import hmac
import logging
import random
import secrets
import threading
from datetime import datetime, timezone

import requests

from vobiz.fake.data import FakeAccount

logger = logging.getLogger(__name__)

RECORDING_PATH = "/vobiz/recording-callback"
TRANSCRIPTION_PATH = "/vobiz/transcription-callback"

# What callers say, some of it what a transcript must never keep.
_OPENINGS = (
    "Hello, thank you for calling Fake Demo support, this is {agent} speaking.",
    "Good afternoon, you are through to billing, my name is {agent}.",
)
_REQUESTS = (
    "I ordered a kettle last week and it arrived broken, I would like a refund please.",
    "My delivery has not arrived yet and the tracking page says it was delivered.",
    "I want to change the address on my account to my new flat in Pune.",
    "I was charged twice for the same order and need one of the payments reversed.",
    "Can you upgrade my plan to the annual one, it works out cheaper.",
    "The app keeps logging me out every time I open it on my phone.",
)
_PAYMENTS = (
    "Sure, my card number is four one one one one one one one one one one one one one one one "
    "and the CVV is seven three seven.",
    "The card is 5555 5555 5555 4444, security code 123.",
    "My Aadhaar number is 2341 2341 2346 if you need it for the verification.",
    "My PAN is ABCDE1234F.",
    "It's for one one one, um, 1111 – 1111 – 1111, valid till twelve twenty seven, and 123 is my C V V.",
    "The OTP is four eight two nine one three, and my account number is 0012 3456 7890.",
)
_CLOSINGS = (
    "I have raised that for you, you will get an email within the hour. Anything else?",
    "That is done now. Thank you for your patience, have a good day.",
)
_AGENTS = ("Priya", "Rahul", "Ananya", "Vikram")


def sign(token: str, url: str, nonce: str, version: str) -> str:
    """base64(HMAC-SHA256(token, url + nonce)) for V2, with a "." between them for V3."""
    message = url + ("." if version == "v3" else "") + nonce
    return base64.b64encode(hmac.new(token.encode(), message.encode(), hashlib.sha256).digest()).decode()


def signed_headers(token: str, url: str) -> dict[str, str]:
    nonce = "".join(secrets.choice("0123456789") for _ in range(20))
    return {
        "X-Vobiz-Signature-V2": sign(token, url, nonce, "v2"),
        "X-Vobiz-Signature-V2-Nonce": nonce,
        "X-Vobiz-Signature-V3": sign(token, url, nonce, "v3"),
        "X-Vobiz-Signature-V3-Nonce": nonce,
    }


def transcript_text(rng: random.Random) -> str:
    parts = [rng.choice(_OPENINGS).format(agent=rng.choice(_AGENTS)), rng.choice(_REQUESTS)]
    if rng.random() < 0.4:
        parts.append(rng.choice(_PAYMENTS))
    parts.append(rng.choice(_CLOSINGS))
    return " ".join(parts)


class CallbackSender:
    """Posts callbacks for new calls to a dashboard, every `interval` seconds, in a thread.

    `send_to` is where the dashboard listens (e.g. http://127.0.0.1:8000); `public_url` is the
    address Vobiz would call it by, which the signature covers (often the same in a demo).
    """

    def __init__(
        self,
        account: FakeAccount,
        send_to: str,
        public_url: str | None = None,
        interval: float = 20.0,
        transcript_delay: float = 5.0,
        seed: int | None = None,
    ) -> None:
        self.account = account
        self.send_to = send_to.rstrip("/")
        self.public_url = (public_url or send_to).rstrip("/")
        self.interval = interval
        self.transcript_delay = transcript_delay
        self.rng = random.Random(seed)
        self.session = requests.Session()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "CallbackSender":
        self._thread = threading.Thread(target=self._run, name="fake-vobiz-callbacks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self.session.close()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                recording_id = self.new_call()
                if self._stopping.wait(self.transcript_delay):
                    return
                self.send_transcription(recording_id)
            except requests.RequestException as exc:
                logger.warning("fake Vobiz: callback not delivered (%s)", type(exc).__name__)

    def new_call(self) -> str:
        """Adds a call that ended just now and posts its recording's callback; returns the recording's id."""
        # The account lists the recording, and has the call's CDR, as ended now: as the callback says.
        recording_id = self.account.add_call(ended_at=datetime.now(timezone.utc))
        obj = self.account.get(recording_id, unknown_too=True)  # the callback comes before the API may know it
        assert obj is not None, "the call was added just now"
        duration_ms, start_ms, end_ms = (
            int(float(obj[name])) for name in ("recording_duration_ms", "recording_start_ms", "recording_end_ms")
        )
        self.post(
            RECORDING_PATH,
            {
                "Event": "Record",
                "RecordingID": recording_id,
                "RecordUrl": obj["recording_url"],
                "RecordFile": obj["recording_url"],
                "CallUUID": obj["call_uuid"],
                "From": obj["from_number"],
                "To": obj["to_number"],
                "Direction": "inbound",
                "CallStatus": "completed",
                "RecordingDuration": str(duration_ms // 1000),
                "RecordingDurationMs": str(duration_ms),
                "RecordingStartMs": str(start_ms),
                "RecordingEndMs": str(end_ms),
                "RecordingEndReason": "hangup",
            },
        )
        return recording_id

    def send_transcription(self, recording_id: str) -> None:
        obj = self.account.get(recording_id, unknown_too=True)
        if obj is None:
            return
        seconds = int(float(obj["recording_duration_ms"])) // 1000
        fields = {"recording_id": recording_id, "call_uuid": obj["call_uuid"], "duration": str(seconds)}
        if seconds > 4 * 3600:
            fields["error"] = "Recording duration too long for transcription"
        else:
            fields.update(
                transcription=transcript_text(self.rng),
                transcription_charge=f"{0.0125 * max(1, -(-seconds // 60)):.4f}",
                transcription_rate="0.0125",
            )
        self.post(TRANSCRIPTION_PATH, fields)

    def post(self, path: str, fields: dict[str, str]) -> requests.Response:
        headers = signed_headers(self.account.auth_token, self.public_url + path)
        response = self.session.post(self.send_to + path, data=fields, headers=headers, timeout=5)
        if response.status_code != 200:
            logger.warning("fake Vobiz: the dashboard answered %s to %s", response.status_code, path)
        return response
