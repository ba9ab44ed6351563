"""The bill as a PDF: French and Arabic text extracted back, Arabic laid out right to left."""

from __future__ import annotations

import io
import unicodedata

import pypdfium2
from pypdf import PdfReader

from tests.integration.billing.conftest import Customer, add_bill
from tests.support import LiveService


def text_of(pdf: bytes) -> str:
    return unicodedata.normalize("NFKC", PdfReader(io.BytesIO(pdf)).pages[0].extract_text())


def ink_by_half(pdf: bytes) -> tuple[int, int]:
    """Dark pixels in the left and right halves of the first page, rendered at 50 dpi."""
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=50 / 72).to_pil().convert("L")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    left = right = 0
    for y in range(0, height, 2):
        for x in range(0, width, 2):
            if pixels[x, y] < 128:
                if x < width // 2:
                    left += 1
                else:
                    right += 1
    return left, right


async def test_the_bill_reads_in_french_and_in_arabic_right_to_left(
    billing: LiveService, customer: Customer, billing_agent: str
) -> None:
    invoice_id = await add_bill(billing, customer.id, 123_450, agent=billing_agent)
    french = await billing.client.get(f"/v1/invoices/{invoice_id}/pdf", headers=customer.headers)
    assert french.status_code == 200 and french.headers["content-type"] == "application/pdf"
    text = text_of(french.content)
    assert "Facture" in text and "1 234,50 DA" in text and "Reste à payer" in text

    arabic = await billing.client.get(
        f"/v1/invoices/{invoice_id}/pdf?language=ar", headers=customer.headers
    )
    assert arabic.status_code == 200
    text = text_of(arabic.content)
    words = ("فاتورة", "اتصالات", "المبلغ")
    assert all(w in text or w[::-1] in text for w in words), text
    left, right = ink_by_half(arabic.content)
    assert right > 2 * left, (left, right)
    left_fr, right_fr = ink_by_half(french.content)
    assert left_fr > right_fr
