"""The bill as a PDF, in French or in Arabic (shaped by HarfBuzz, laid out right to left)."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from sila_billing.domain.bills import ALGIERS, outstanding
from sila_billing.domain.money import format_dzd

FONT = resources.files("fontpkg_amiri") / "files" / "Amiri-Regular.ttf"

LABELS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Facture",
        "operator": "Algérie Télécom",
        "number": "Numéro",
        "period": "Période",
        "offer": "Offre",
        "amount": "Montant",
        "paid": "Déjà payé",
        "left": "Reste à payer",
        "due": "À payer avant le",
        "status": "État",
    },
    "ar": {
        "title": "فاتورة",
        "operator": "اتصالات الجزائر",
        "number": "الرقم",
        "period": "الفترة",
        "offer": "العرض",
        "amount": "المبلغ",
        "paid": "المبلغ المدفوع",
        "left": "المبلغ المتبقي",
        "due": "آخر أجل للدفع",
        "status": "الحالة",
    },
}
STATES: dict[str, dict[str, str]] = {
    "fr": {
        "issued": "émise",
        "partially_paid": "payée en partie",
        "paid": "payée",
        "overdue": "en retard",
        "cancelled": "annulée",
    },
    "ar": {
        "issued": "صادرة",
        "partially_paid": "مدفوعة جزئيا",
        "paid": "مدفوعة",
        "overdue": "متأخرة",
        "cancelled": "ملغاة",
    },
}


def _local(moment: datetime) -> str:
    return moment.astimezone(ALGIERS).strftime("%d/%m/%Y")


def invoice_pdf(invoice: Any, language: str) -> bytes:
    labels, states = LABELS[language], STATES[language]
    rtl = language == "ar"
    pdf = FPDF(format="A4")
    pdf.set_title(f"{labels['title']} {invoice.number}")
    pdf.add_page()
    pdf.add_font("Amiri", fname=str(FONT))
    pdf.set_font("Amiri", size=20)
    if rtl:
        pdf.set_text_shaping(use_shaping_engine=True, direction="rtl", script="arab", language="ar")
    else:
        pdf.set_text_shaping(use_shaping_engine=True, direction="ltr")
    align = "R" if rtl else "L"
    pdf.cell(0, 12, labels["operator"], align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.cell(0, 12, labels["title"], align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Amiri", size=13)
    rows = [
        ("number", invoice.number),
        ("period", invoice.period),
        ("offer", invoice.offer_code),
        ("amount", format_dzd(invoice.amount_centimes, language)),
        ("paid", format_dzd(invoice.paid_centimes, language)),
        ("left", format_dzd(outstanding(invoice.amount_centimes, invoice.paid_centimes), language)),
        ("due", _local(invoice.due_at)),
        ("status", states.get(invoice.state, invoice.state)),
    ]
    for key, value in rows:
        # In Arabic the label reads first from the right: "label : value" laid out RTL.
        pdf.cell(0, 9, f"{labels[key]} : {value}", align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
