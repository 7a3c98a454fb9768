"""Billing helpers: money, periods, paging and invoice-line parsing."""
__version__ = "0.4.2"
