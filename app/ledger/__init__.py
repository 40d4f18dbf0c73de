"""The money ledger: one append-only table recording every money movement of every account.
Billing, payments and credit all post to it; nothing in it knows about those domains' code."""
