"""The billing domain's tables: the catalog and what resellers buy, and what they are billed."""

from app.billing.models.catalog import (
    BillingCycle,
    ChargeModel,
    EndCustomer,
    OneTimeCharge,
    Product,
    Subscription,
    SubscriptionChange,
    SubscriptionStatus,
    TaxRate,
    UsageRecord,
)
from app.billing.models.invoices import (
    ChargeType,
    CreditNote,
    CreditNoteLine,
    DocumentSequence,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from app.billing.models.legacy import HistoricalInvoice, HistoricalInvoiceLine
from app.billing.models.po_numbers import PurchaseOrderNumber

__all__ = [
    "BillingCycle",
    "ChargeModel",
    "ChargeType",
    "CreditNote",
    "CreditNoteLine",
    "DocumentSequence",
    "EndCustomer",
    "HistoricalInvoice",
    "HistoricalInvoiceLine",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "OneTimeCharge",
    "Product",
    "PurchaseOrderNumber",
    "Subscription",
    "SubscriptionChange",
    "SubscriptionStatus",
    "TaxRate",
    "UsageRecord",
]
