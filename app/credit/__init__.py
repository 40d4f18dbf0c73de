"""Account credit (SPEC §9): credit notes, overpayments and returned credit, applied to
invoices automatically at issue or by the reseller to chosen open invoices."""
