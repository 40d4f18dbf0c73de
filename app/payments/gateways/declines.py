"""Card decline codes (Stripe's names, which most gateways share) and what they mean for a
reseller in plain words."""

DECLINE_REASONS: dict[str, str] = {
    "generic_decline": (
        "The card was declined. Ask your card issuer why, or pay with another method."
    ),
    "insufficient_funds": (
        "The card was declined for insufficient funds. Pay a smaller amount, use another card, "
        "or pay by bank account."
    ),
    "expired_card": "The card has expired. Add the new card, or pay with another method.",
}


def describe_decline(code: str) -> str:
    """Plain words for a decline code; an unknown code reads as a generic decline."""
    return DECLINE_REASONS.get(code, DECLINE_REASONS["generic_decline"])
