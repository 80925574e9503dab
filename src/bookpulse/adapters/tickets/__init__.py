"""Ticket adapters: Ed25519 signing with encrypted keys, QR and PDF rendering."""
