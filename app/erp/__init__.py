"""Integration with the back-office ERP: the outbox of business events."""
