"""What SQS accepts in a message body, as its documentation says, written out apart from the module's own set
(``platform_spec.review.SQS_REFUSED_CHARS``) so that the tests check the module against the documentation.
moto accepts any body, so the tests read what SQS would refuse themselves."""

from __future__ import annotations

#: The characters SendMessage accepts in a message body (MessageBody:
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html):
#: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF; a body with any other is
#: refused (InvalidMessageContents).
SQS_ALLOWED = ((0x9, 0x9), (0xA, 0xA), (0xD, 0xD), (0x20, 0xD7FF), (0xE000, 0xFFFD), (0x10000, 0x10FFFF))


def sqs_accepts(character: str) -> bool:
    return any(low <= ord(character) <= high for low, high in SQS_ALLOWED)


def refused_in(body: str) -> list[str]:
    """The characters of ``body`` SQS refuses, as U+XXXX."""
    return sorted({f"U+{ord(c):04X}" for c in body if not sqs_accepts(c)})
