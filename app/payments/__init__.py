"""Payments received against invoices."""
