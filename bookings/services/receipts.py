"""Receipts for money taken or given back: the figures, an HTML page and a PDF (reportlab), and
the e-mail that carries the PDF to the client through the outbox.

``receipt_email_queue`` is the one write: staff ask for it (a click), it checks who may, locks
the payment and refuses a second copy while one is still waiting to go, writes the audit row
and queues one ClientMessage (kind ``receipt``, e-mail only) with the receipt's figures frozen
on it; the worker attaches the PDF when it sends (bookings.services.outbox).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from bookings.models import Appointment, ClientMessage
from bookings.models_payments import Payment
from bookings.money import Money
from bookings.payments.desk import PERMISSION, Statement, appointment_statement, course_statement
from bookings.zones import default_tz
from clients.models import AuditEvent
from clients.services import audit_record

from .messaging import wake_dispatcher

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

Kind, Status = Payment.Kind, Payment.Status
RECEIPTED_KINDS = (Kind.DEPOSIT, Kind.PAYMENT, Kind.REFUND)
WAITING = (ClientMessage.Status.PENDING, ClientMessage.Status.SENDING)


def receipt_number(payment_id: int) -> str:
    return f"R-{payment_id:06d}"


@dataclass(frozen=True)
class Receipt:
    number: str
    payment_id: int
    what: str
    amount: Money
    method: str
    day: date
    client_name: str
    client_email: str
    about: str
    reference: str
    refunds_payment: str
    statement: Statement
    clinic_name: str
    location_lines: tuple[str, ...]

    @property
    def balance(self) -> Money | None:
        return self.statement.balance

    @property
    def filename(self) -> str:
        return f"receipt-{self.number}.pdf"


def _payment(payment_id: int) -> Payment:
    return Payment.objects.select_related(
        "client", "course__treatment", "appointment__location", "appointment__treatment", "appointment__course"
    ).get(pk=payment_id)


def receipt_available(payment: Payment) -> bool:
    return payment.kind in RECEIPTED_KINDS and payment.status == Status.SUCCEEDED


def receipt_build(payment: Payment) -> Receipt:
    """The receipt's figures (two queries: the payment with what it is for, and the statement)."""
    if not receipt_available(payment):
        raise ValidationError("Only money taken or given back that went through has a receipt.", code="no_receipt")
    payment = _payment(payment.pk)
    appointment, course = payment.appointment, payment.course
    location = appointment.location if appointment is not None else None
    tz = location.tz if location is not None else default_tz()
    if course is not None:
        about = f"{course.treatment.name} course #{course.pk}"
        if appointment is not None:
            about += f", booking {appointment.reference}"
        statement = course_statement(course)
    else:
        about = f"{appointment.get_kind_display()} {appointment.reference}"
        statement = appointment_statement(appointment)
    location_lines = ()
    if location is not None:
        location_lines = tuple(
            p
            for p in (location.name, location.address_line1, location.address_line2, location.city, location.postcode)
            if p
        )
    client = payment.client
    return Receipt(
        number=receipt_number(payment.pk),
        payment_id=payment.pk,
        what=payment.get_kind_display(),
        amount=payment.money,
        method=payment.get_method_display(),
        day=(payment.succeeded_at or payment.created_at).astimezone(tz).date(),
        client_name=f"{client.first_name} {client.last_name}".strip(),
        client_email=client.email,
        about=about,
        reference=payment.reference,
        refunds_payment=receipt_number(payment.settles_id) if payment.settles_id else "",
        statement=statement,
        clinic_name=settings.CLINIC_NAME,
        location_lines=location_lines,
    )


def _long_date(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def receipt_pdf(receipt: Receipt) -> bytes:
    """The receipt as a one-page A4 PDF (reportlab), the same figures as the HTML page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    # Uncompressed and invariant: small, byte-for-byte the same for the same receipt.
    pdf = canvas.Canvas(buffer, pagesize=A4, pageCompression=0, invariant=1)
    pdf.setTitle(f"Receipt {receipt.number}")
    pdf.setAuthor(receipt.clinic_name)
    y = A4[1] - 25 * mm

    def line(text: str, *, size: int = 11, bold: bool = False, gap: float = 7) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        pdf.drawString(20 * mm, y, text)
        y -= gap * mm

    line(receipt.clinic_name, size=16, bold=True, gap=8)
    for text in receipt.location_lines:
        line(text, size=9, gap=5)
    y -= 4 * mm
    line(f"Receipt {receipt.number}", size=14, bold=True, gap=9)
    line(f"Date: {_long_date(receipt.day)}")
    line(f"Client: {receipt.client_name}")
    line(f"For: {receipt.about}")
    y -= 3 * mm
    line(f"{receipt.what}: {receipt.amount}", size=13, bold=True, gap=8)
    line(f"Paid by: {receipt.method}" if receipt.what != "Refund" else f"Refunded by: {receipt.method}")
    if receipt.refunds_payment:
        line(f"Gives back: receipt {receipt.refunds_payment}")
    if receipt.reference:
        line(f"Reference: {receipt.reference}")
    y -= 3 * mm
    statement = receipt.statement
    if statement.price is not None:
        line("The course's account", bold=True)
        line(f"Price agreed: {statement.price}")
        line(f"Deposits: {statement.deposits}")
        line(f"Payments: {statement.payments}")
        line(f"Refunds: {statement.refunds}")
        line(f"Balance to pay: {statement.balance}", bold=True)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def receipt_pdf_for_message(message: ClientMessage) -> tuple[str, bytes] | None:
    """The PDF a queued receipt message carries (built when it is sent), or None."""
    payment_id = (message.payload or {}).get("payment")
    if not isinstance(payment_id, int):
        return None
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not receipt_available(payment):
        return None
    receipt = receipt_build(payment)
    return receipt.filename, receipt_pdf(receipt)


def _message_appointment(payment: Payment) -> Appointment | None:
    """The booking a receipt's message hangs on (the outbox speaks of appointments): the
    payment's own, else the course's most recent session."""
    if payment.appointment_id:
        return payment.appointment
    return Appointment.objects.filter(course_id=payment.course_id).order_by("-start", "-pk").first()


def receipt_email_queue(*, payment: Payment, by: AbstractBaseUser, now: datetime | None = None) -> ClientMessage:
    """Queue the receipt to the client's e-mail, once per request: refused while an earlier
    copy of the same receipt is still waiting to go. Audited."""
    if by is None or not by.is_authenticated or not by.has_perm(PERMISSION):
        raise PermissionDenied("You may not send receipts.")
    now = now or timezone.now()
    with transaction.atomic():
        # Locked: two clicks (or two desks) on one receipt queue one message, not two.
        payment = Payment.objects.select_for_update(of=("self",)).select_related("client").get(pk=payment.pk)
        receipt = receipt_build(payment)
        if payment.client.erased_at is not None:
            raise ValidationError("The client's details were erased.", code="client_erased")
        if not payment.client.email:
            raise ValidationError("The client has no e-mail address: print the receipt instead.", code="no_email")
        appointment = _message_appointment(payment)
        if appointment is None:
            raise ValidationError(
                "The course has no booking yet to send the receipt with: print it instead.", code="no_booking"
            )
        waiting = ClientMessage.objects.filter(
            kind=ClientMessage.Kind.RECEIPT, payload__payment=payment.pk, status__in=WAITING
        ).exists()
        if waiting:
            raise ValidationError("This receipt is already on its way to the client.", code="receipt_already_queued")
        message = ClientMessage.objects.create(
            appointment=appointment,
            kind=ClientMessage.Kind.RECEIPT,
            channel=ClientMessage.Channel.EMAIL,
            sequence=appointment.ics_sequence,
            due_at=now,
            payload={
                "payment": payment.pk,
                "receipt_number": receipt.number,
                "receipt_what": receipt.what,
                "receipt_amount": str(receipt.amount),
                "receipt_method": receipt.method,
                "receipt_date": _long_date(receipt.day),
                "balance": "" if receipt.balance is None else str(receipt.balance),
            },
        )
        audit_record(
            actor=by,
            action=AuditEvent.Action.CREATE,
            object_type="receipt_email",
            object_id=payment.pk,
            client_id=payment.client_id,
            fields=["receipt"],
            detail=f"receipt {receipt.number} queued (message {message.pk})",
        )
        transaction.on_commit(wake_dispatcher)
    logger.info("receipt queued payment=%s message=%s", payment.pk, message.pk)
    return message
