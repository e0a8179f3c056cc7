"""The HTML adapter: views, forms, htmx fragments, QR codes, bulk create, rules and tokens."""
