"""Documents rendered for people: certificates (电子证照) and acceptance receipts (受理回执) as PDF.

Rendered from HTML templates with WeasyPrint, Chinese fonts embedded, a QR code (segno) to
the public verification page or the case.
"""
