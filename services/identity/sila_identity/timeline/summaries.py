"""The one-line human summary of a timeline entry, in the reader's language (fr, ar, en).

Entries store the event's data; the sentence is rendered when read, so a template fix
or a new language applies to the whole history at once. Coded values (statuses,
channels, queues, offers...) are shown in the reader's language; a value with no label is
shown as it is, and a missing member as "…".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from sila_common.geography import Place, Reference
from sila_common.geography import reference as geography
from sila_common.offers import OFFERS

Language = str
Templates = dict[Language, str]
LANGUAGES: Final = ("fr", "ar", "en")
ALGIERS: Final = ZoneInfo("Africa/Algiers")


def _t(fr: str, ar: str, en: str) -> Templates:
    return {"fr": fr, "ar": ar, "en": en}


# Coded values, by the data member that carries them.
LABELS: Final[dict[str, dict[str, Templates]]] = {
    "channel": {
        "agency": _t("en agence", "في الوكالة", "at an agency"),
        "call_centre": _t("centre d'appels 12", "مركز النداء 12", "call centre 12"),
        "callback": _t("rappel client", "معاودة الاتصال بالزبون", "customer call-back"),
        "social": _t("réseaux sociaux", "شبكات التواصل الاجتماعي", "social networks"),
        "email": _t("e-mail", "البريد الإلكتروني", "e-mail"),
        "web": _t("Espace Client", "الفضاء الزبون", "customer portal"),
        "app": _t("My Idoom", "تطبيق My Idoom", "My Idoom app"),
        "sms": _t("SMS", "رسالة قصيرة", "SMS"),
        "push": _t("notification", "إشعار", "push notification"),
        "in_app": _t("dans l'application", "داخل التطبيق", "in the app"),
        "any": _t("tous canaux", "كل القنوات", "every channel"),
    },
    "direction": {
        "inbound": _t("entrant", "وارد", "inbound"),
        "outbound": _t("sortant", "صادر", "outbound"),
    },
    "reason": {
        "commercial": _t("demande commerciale", "طلب تجاري", "commercial request"),
        "technical": _t("problème technique", "مشكل تقني", "technical issue"),
        "administrative": _t("démarche administrative", "إجراء إداري", "administrative matter"),
        "information": _t("renseignement", "استعلام", "information"),
        "complaint_follow_up": _t("suivi de réclamation", "متابعة شكوى", "complaint follow-up"),
        "satisfaction_check": _t("suivi de satisfaction", "قياس الرضا", "satisfaction check"),
    },
    "outcome": {
        "resolved": _t("résolu", "تم الحل", "resolved"),
        "information_given": _t("information donnée", "تم تقديم المعلومة", "information given"),
        "ticket_opened": _t("réclamation ouverte", "تم فتح شكوى", "ticket opened"),
        "follow_up_needed": _t("suite à donner", "يتطلب متابعة", "follow-up needed"),
        "transferred": _t("transféré", "تم التحويل", "transferred"),
        "no_answer": _t("sans réponse", "بدون رد", "no answer"),
    },
    "status": {
        "opened": _t("ouverte", "مفتوحة", "opened"),
        "assigned": _t("prise en charge", "قيد المعالجة", "assigned"),
        "in_progress": _t("en cours de traitement", "قيد المعالجة", "in progress"),
        "pending_customer": _t("en attente de votre réponse", "في انتظار ردكم", "waiting on you"),
        "resolved": _t("résolue", "تم حلها", "resolved"),
        "closed": _t("clôturée", "مغلقة", "closed"),
        "reopened": _t("rouverte", "أعيد فتحها", "reopened"),
        "cancelled": _t("annulée", "ملغاة", "cancelled"),
        "prospect": _t("prospect", "زبون محتمل", "prospect"),
        "active": _t("actif", "نشط", "active"),
        "suspended": _t("suspendu", "معلق", "suspended"),
    },
    "queue": {
        "technical": _t("technique", "التقني", "technical"),
        "billing": _t("facturation", "الفوترة", "billing"),
        "commercial": _t("commercial", "التجاري", "commercial"),
    },
    "tier": {
        "bronze": _t("bronze", "برونزي", "bronze"),
        "silver": _t("argent", "فضي", "silver"),
        "gold": _t("or", "ذهبي", "gold"),
    },
    # Offers by their names (sila_common.offers); a code sold no more is shown as it is.
    "offer_code": {offer.code: _t(offer.name_fr, offer.name_ar, offer.name_en) for offer in OFFERS},
    "purpose": {
        "service": _t("messages de service", "رسائل الخدمة", "service messages"),
        "marketing": _t("offres commerciales", "العروض التجارية", "marketing"),
    },
}

SUMMARIES: Final[dict[str, Templates]] = {
    "identity.customer.registered": _t(
        "Client enregistré : {display_name} ({channel})",
        "تم تسجيل الزبون: {display_name} ({channel})",
        "Customer registered: {display_name} ({channel})",
    ),
    "identity.customer.updated": _t(
        "Fiche client mise à jour ({changed})",
        "تم تحديث ملف الزبون ({changed})",
        "Customer details updated ({changed})",
    ),
    "identity.customer.updated:reform": _t(
        "Rattaché à la wilaya de {wilaya_name} (découpage territorial de 2025), "
        "commune de {commune_name}",
        "أصبح تابعا لولاية {wilaya_name} (التقسيم الإداري 2025)، بلدية {commune_name}",
        "Now in the wilaya of {wilaya_name} (2025 territorial reform), commune of {commune_name}",
    ),
    "identity.contract.updated": _t(
        "Contrat {number} : installation à {installation_commune_name} "
        "(wilaya de {installation_wilaya_name})",
        "العقد {number}: التركيب في {installation_commune_name} (ولاية {installation_wilaya_name})",
        "Contract {number}: installed in {installation_commune_name} "
        "(wilaya of {installation_wilaya_name})",
    ),
    "tickets.ticket.relocated": _t(
        "Réclamation {number} désormais suivie par la wilaya de {wilaya_name}",
        "الشكوى {number} تتابعها الآن ولاية {wilaya_name}",
        "Ticket {number} now handled by the wilaya of {wilaya_name}",
    ),
    "identity.customer.erased": _t(
        "Données personnelles effacées (loi 18-07)",
        "تم محو المعطيات الشخصية (القانون 18-07)",
        "Personal data erased (law 18-07)",
    ),
    "identity.consent.changed:granted": _t(
        "Consentement donné : {purpose}, {channel}",
        "تمت الموافقة: {purpose}، {channel}",
        "Consent given: {purpose}, {channel}",
    ),
    "identity.consent.changed:withdrawn": _t(
        "Consentement retiré : {purpose}, {channel}",
        "تم سحب الموافقة: {purpose}، {channel}",
        "Consent withdrawn: {purpose}, {channel}",
    ),
    "identity.otp.requested": _t(
        "Code de connexion envoyé par SMS",
        "تم إرسال رمز الدخول برسالة قصيرة",
        "Log-in code sent by SMS",
    ),
    "identity.interaction.logged": _t(
        "Contact {channel} ({direction}) : {reason}, {outcome}",
        "اتصال {channel} ({direction}): {reason}، {outcome}",
        "Contact {channel} ({direction}): {reason}, {outcome}",
    ),
    "identity.contract.signed": _t(
        "Contrat {number} souscrit ({offer_code})",
        "تم إبرام العقد {number} ({offer_code})",
        "Contract {number} signed ({offer_code})",
    ),
    "tickets.ticket.opened": _t(
        "Réclamation {number} ouverte : {subject} (échéance {due_at_local})",
        "تم فتح الشكوى {number}: {subject} (الأجل {due_at_local})",
        "Ticket {number} opened: {subject} (due {due_at_local})",
    ),
    "tickets.ticket.status_changed": _t(
        "Réclamation {number} : {status}",
        "الشكوى {number}: {status}",
        "Ticket {number}: {status}",
    ),
    "tickets.ticket.assigned": _t(
        "Réclamation {number} confiée au service {queue}",
        "أسندت الشكوى {number} إلى المصلحة {queue}",
        "Ticket {number} assigned to the {queue} team",
    ),
    "tickets.ticket.escalated:warning": _t(
        "Réclamation {number} : échéance proche ({due_at_local})",
        "الشكوى {number}: اقتراب الأجل ({due_at_local})",
        "Ticket {number}: due soon ({due_at_local})",
    ),
    "tickets.ticket.escalated:breached": _t(
        "Réclamation {number} : délai dépassé ({due_at_local})",
        "الشكوى {number}: تم تجاوز الأجل ({due_at_local})",
        "Ticket {number}: overdue ({due_at_local})",
    ),
    "tickets.note.added:public": _t(
        "Nouveau message sur la réclamation {number}",
        "رسالة جديدة بخصوص الشكوى {number}",
        "New message on ticket {number}",
    ),
    "tickets.note.added:internal": _t(
        "Note interne sur la réclamation {number}",
        "ملاحظة داخلية بخصوص الشكوى {number}",
        "Internal note on ticket {number}",
    ),
    "tickets.incident.customer_affected": _t(
        "Incident réseau ({service}, {area_label}) : rétablissement prévu {estimated_end_at_local}",
        "عطل في الشبكة ({service}، {area_label}): العودة المتوقعة {estimated_end_at_local}",
        "Network incident ({service}, {area_label}): expected back {estimated_end_at_local}",
    ),
    "tickets.incident.customer_restored": _t(
        "Service rétabli ({service}, {area_label})",
        "تمت استعادة الخدمة ({service}، {area_label})",
        "Service restored ({service}, {area_label})",
    ),
    "tickets.survey.answered": _t(
        "Enquête de satisfaction répondue (satisfaction {csat}/5, recommandation {nps}/10)",
        "تمت الإجابة على استبيان الرضا (الرضا {csat}/5، التوصية {nps}/10)",
        "Satisfaction survey answered (satisfaction {csat}/5, recommendation {nps}/10)",
    ),
    "billing.invoice.issued": _t(
        "Facture {number} émise : {amount} (échéance {due_at_local})",
        "صدرت الفاتورة {number}: {amount} (الأجل {due_at_local})",
        "Bill {number} issued: {amount} (due {due_at_local})",
    ),
    "billing.invoice.overdue": _t(
        "Facture {number} en retard : reste {outstanding}",
        "الفاتورة {number} متأخرة: المتبقي {outstanding}",
        "Bill {number} overdue: {outstanding} left",
    ),
    "billing.invoice.paid": _t(
        "Facture {number} payée",
        "تم دفع الفاتورة {number}",
        "Bill {number} paid",
    ),
    "billing.payment.succeeded": _t(
        "Paiement reçu : {amount}",
        "تم استلام الدفع: {amount}",
        "Payment received: {amount}",
    ),
    "billing.payment.failed": _t(
        "Paiement non abouti : {amount}",
        "لم يتم الدفع: {amount}",
        "Payment failed: {amount}",
    ),
    "billing.payment.refunded": _t(
        "Remboursement : {amount}",
        "استرجاع مبلغ: {amount}",
        "Refund: {amount}",
    ),
    "billing.subscription.recharged": _t(
        "Abonnement {offer_code} rechargé jusqu'au {expires_at_local}",
        "تمت إعادة شحن الاشتراك {offer_code} حتى {expires_at_local}",
        "Subscription {offer_code} recharged until {expires_at_local}",
    ),
    "billing.subscription.expiring": _t(
        "Abonnement {offer_code} : expire le {expires_at_local}",
        "الاشتراك {offer_code}: ينتهي في {expires_at_local}",
        "Subscription {offer_code}: expires on {expires_at_local}",
    ),
    "billing.subscription.expired": _t(
        "Abonnement {offer_code} expiré",
        "انتهى الاشتراك {offer_code}",
        "Subscription {offer_code} expired",
    ),
    "billing.subscription.suspended": _t(
        "Abonnement {offer_code} suspendu",
        "تم تعليق الاشتراك {offer_code}",
        "Subscription {offer_code} suspended",
    ),
    "billing.idoomly.granted": _t(
        "Idoomly activé jusqu'au {expires_at_local}",
        "تم تفعيل Idoomly حتى {expires_at_local}",
        "Idoomly on until {expires_at_local}",
    ),
    "loyalty.account.opened": _t(
        "Compte fidélité ouvert (code de parrainage {referral_code})",
        "تم فتح حساب الوفاء (رمز الإحالة {referral_code})",
        "Loyalty account opened (referral code {referral_code})",
    ),
    "loyalty.reward.granted:default": _t(
        "Récompense fidélité : {reward_label}",
        "مكافأة الوفاء: {reward_label}",
        "Loyalty reward: {reward_label}",
    ),
    "loyalty.reward.granted:recovery": _t(
        "Compensation pour la réclamation {ticket_number} (délai dépassé) : {reward_label}",
        "تعويض عن الشكوى {ticket_number} (تجاوز الأجل): {reward_label}",
        "Compensation for ticket {ticket_number} (overdue): {reward_label}",
    ),
    "loyalty.points.redeemed": _t(
        "{points} points échangés : {reward_label}",
        "تم استبدال {points} نقطة: {reward_label}",
        "{points} points redeemed: {reward_label}",
    ),
    "loyalty.points.expired": _t(
        "{points} points expirés",
        "انتهت صلاحية {points} نقطة",
        "{points} points expired",
    ),
    "loyalty.tier.changed": _t(
        "Niveau fidélité : {tier}",
        "مستوى الوفاء: {tier}",
        "Loyalty tier: {tier}",
    ),
    "loyalty.boost.ended": _t(
        "Fin du bonus de débit ({speed_mbps} Mbit/s)",
        "انتهاء زيادة السرعة ({speed_mbps} ميغابت/ث)",
        "Speed boost ended ({speed_mbps} Mbit/s)",
    ),
    "loyalty.referral.converted": _t(
        "Parrainage réussi : votre filleul est devenu client",
        "إحالة ناجحة: أصبح الشخص الذي دعوتموه زبونا",
        "Referral converted: your referee became a customer",
    ),
    "notify.message.sent": _t(
        "Message envoyé ({channel})",
        "تم إرسال رسالة ({channel})",
        "Message sent ({channel})",
    ),
    "notify.message.delivered": _t(
        "Message reçu ({channel})",
        "تم استلام الرسالة ({channel})",
        "Message delivered ({channel})",
    ),
    "notify.message.failed": _t(
        "Échec d'envoi du message ({channel})",
        "فشل إرسال الرسالة ({channel})",
        "Message failed ({channel})",
    ),
}

SERVICE_NAMES: Final[dict[str, Templates]] = {
    "identity": _t("compte client", "حساب الزبون", "customer account"),
    "tickets": _t("réclamations", "الشكاوى", "tickets"),
    "billing": _t("facturation", "الفوترة", "billing"),
    "loyalty": _t("fidélité", "الوفاء", "loyalty"),
    "notify": _t("messages", "الرسائل", "messages"),
}
FALLBACK: Final = _t(
    "Événement {service_name} : {type}",
    "حدث {service_name}: {type}",
    "{service_name} event: {type}",
)

# Event types whose sentence depends on a member of the data.
VARIANTS: Final[dict[str, Callable[[Mapping[str, Any]], str]]] = {
    "identity.consent.changed": lambda d: "granted" if d.get("granted") else "withdrawn",
    "identity.customer.updated": lambda d: "reform" if d.get("reason") == "reform" else "",
    "tickets.ticket.escalated": lambda d: "breached" if d.get("level") == "breached" else "warning",
    "tickets.note.added": lambda d: "public" if d.get("public") else "internal",
    "loyalty.reward.granted": lambda d: "recovery" if d.get("ticket_number") else "default",
}

FIELD_NAMES: Final[dict[str, Templates]] = {
    "phone": _t("téléphone", "الهاتف", "phone"),
    "email": _t("e-mail", "البريد الإلكتروني", "e-mail"),
    "address": _t("adresse", "العنوان", "address"),
    "commune": _t("commune", "البلدية", "commune"),
    "commune_code": _t("commune (référentiel)", "البلدية (المرجع)", "commune (reference)"),
    "wilaya_code": _t("wilaya", "الولاية", "wilaya"),
    "language": _t("langue", "اللغة", "language"),
    "status": _t("statut", "الحالة", "status"),
}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "…"


def template_for(event_type: str, data: Mapping[str, Any], language: Language) -> str:
    variant = VARIANTS.get(event_type)
    key = f"{event_type}:{variant(data)}" if variant else event_type
    templates = SUMMARIES.get(key) or SUMMARIES.get(event_type, FALLBACK)
    return templates.get(language) or templates["fr"]


def summarise(
    event_type: str,
    data: Mapping[str, Any],
    language: Language,
    reference: Reference | None = None,
) -> str:
    """The entry's sentence in ``language`` (French when the language is not served);
    places are named as ``reference`` says (identity's tables), else as the shipped file."""
    language = language if language in LANGUAGES else "fr"
    # One pass over the entry's members (a page summarises fifty entries per read).
    values = _Blank()
    for member, value in data.items():
        if value is not None:
            labels = LABELS.get(member)
            if labels is not None and isinstance(value, str) and value in labels:
                value = labels[value][language]
            values[member] = value
    if isinstance(data.get("changed"), list):
        values["changed"] = ", ".join(
            FIELD_NAMES.get(str(f), {}).get(language, str(f)) for f in data["changed"]
        )
    _name_places(values, data, language, reference or geography())
    for member in ("due_at", "estimated_end_at", "expires_at"):
        if data.get(member):
            values[f"{member}_local"] = local_time(str(data[member]))
    for member, shown in (("amount_centimes", "amount"), ("outstanding_centimes", "outstanding")):
        if isinstance(data.get(member), int):
            values[shown] = money(int(data[member]), language)
    service = event_type.split(".", 1)[0]
    values.setdefault("type", event_type)
    values["service_name"] = SERVICE_NAMES.get(service, {}).get(language, service)
    return template_for(event_type, data, language).format_map(values)


def money(centimes: int, language: Language) -> str:
    """Centimes as the reader writes dinars: 2 500,00 DA, 2,500.00 DZD, 2 500,00 دج."""
    dinars, rest = divmod(abs(centimes), 100)
    sign = "-" if centimes < 0 else ""
    if language == "en":
        return f"{sign}{dinars:,}.{rest:02d} DZD"
    unit = "دج" if language == "ar" else "DA"
    return f"{sign}{dinars:,}".replace(",", "\u00a0") + f",{rest:02d} {unit}"


def _name_places(
    values: dict[str, Any], data: Mapping[str, Any], language: Language, reference: Reference
) -> None:
    """Places by their names in the reader's language, never by their codes: every
    `…wilaya_code` / `…commune_code` member gets a `…wilaya_name` / `…commune_name`, and the
    members an event names in every language (`i18n`) are shown in the reader's, by the
    place's current name when the event says which place (`places`: "commune:2801")."""
    for member, value in data.items():
        if not isinstance(value, str):
            continue
        if member.endswith("wilaya_code"):
            values[member.removesuffix("code") + "name"] = reference.wilaya_name(value, language)
        elif member.endswith("commune_code"):
            # A commune retired since is still named as it was.
            commune = reference.communes.get(value) or geography().communes.get(value)
            if commune is not None:
                values[member.removesuffix("code") + "name"] = commune.name(language)
    names = data.get("i18n")
    if isinstance(names, Mapping):
        for member, forms in names.items():
            if isinstance(forms, Mapping) and isinstance(forms.get(language), str):
                values[member] = forms[language]
        places = data.get("places")
        for member, key in places.items() if isinstance(places, Mapping) else ():
            place = _place(reference, str(key)) if member in names else None
            if place is not None:
                values[member] = place.name(language)


def _place(reference: Reference, key: str) -> Place | None:
    kind, _, code = key.partition(":")
    if kind == "wilaya":
        return reference.wilayas.get(code)
    if kind == "daira":
        return reference.dairas.get(code)
    return reference.communes.get(code) if kind == "commune" else None


def local_time(iso: str) -> str:
    """An RFC 3339 time as read in Algeria: 26/11/2026 14:30."""
    try:
        moment = datetime.fromisoformat(iso).astimezone(ALGIERS)
    except ValueError:
        return iso
    return moment.strftime("%d/%m/%Y %H:%M")
