"""Deposits and payments: the deposit policy, the money rows, the provider (Stripe) behind a
small interface, and the services that take, confirm, refund and forfeit deposits."""
