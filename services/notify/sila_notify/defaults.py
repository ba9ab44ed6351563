"""The messages Sila sends out of the box: which events speak, and what they say in ar, fr, en.

Seeded into the ``event_routes`` and ``templates`` tables at start-up when absent; from then on
they are data an administrator changes through the API (a new template version, a route
turned off). Billing and loyalty event names are the ones those services are expected to
publish; a route for an event nobody publishes yet simply never fires.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

INTERRUPTING: Final = ("sms", "push", "email", "in_app")


@dataclass(frozen=True)
class DefaultTemplate:
    variant: str
    variables: dict[str, str]
    # language -> (subject for e-mail and push title, body)
    texts: dict[str, tuple[str, str]]


@dataclass(frozen=True)
class DefaultRoute:
    event_type: str
    lane: str
    urgent: bool
    channels: tuple[str, ...]
    templates: list[DefaultTemplate]
    condition: dict[str, list[str]] = field(default_factory=dict)
    # The data field whose value picks the template variant ("" = one template).
    variant_field: str | None = None


def _one(variables: dict[str, str], texts: dict[str, tuple[str, str]]) -> list[DefaultTemplate]:
    return [DefaultTemplate("", variables, texts)]


DEFAULT_ROUTES: Final[list[DefaultRoute]] = [
    DefaultRoute(
        "identity.otp.requested",
        "otp",
        True,
        ("sms",),
        _one(
            {"code": "str", "expires_at": "datetime"},
            {
                "fr": (
                    "Code Idoom",
                    "Votre code Idoom est {code}. Il expire a {expires_at:time}. "
                    "Ne le communiquez a personne.",
                ),
                "ar": (
                    "رمز Idoom",
                    "رمز Idoom الخاص بك هو {code}. ينتهي على {expires_at:time}. لا تشاركه مع أحد.",
                ),
                "en": (
                    "Idoom code",
                    "Your Idoom code is {code}. It expires at {expires_at:time}. Never share it.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "tickets.ticket.opened",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"number": "str", "due_at": "datetime"},
            {
                "fr": (
                    "Réclamation {number} enregistrée",
                    "Algérie Télécom : votre réclamation {number} est enregistrée. "
                    "Nous nous engageons à la traiter avant le {due_at}.",
                ),
                "ar": (
                    "تم تسجيل الشكوى {number}",
                    "اتصالات الجزائر: تم تسجيل شكواكم {number}. نلتزم بمعالجتها قبل {due_at}.",
                ),
                "en": (
                    "Complaint {number} registered",
                    "Algérie Télécom: your complaint {number} is registered. "
                    "We commit to handling it by {due_at}.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "tickets.ticket.status_changed",
        "service",
        False,
        INTERRUPTING,
        [
            DefaultTemplate(
                "pending_customer",
                {"number": "str"},
                {
                    "fr": (
                        "Réclamation {number} : nous attendons votre réponse",
                        "Votre réclamation {number} attend une réponse de votre part. "
                        "Répondez dans My Idoom ou appelez le 12.",
                    ),
                    "ar": (
                        "الشكوى {number}: ننتظر ردكم",
                        "شكواكم {number} في انتظار ردكم. أجيبوا عبر My Idoom أو اتصلوا بالرقم 12.",
                    ),
                    "en": (
                        "Complaint {number}: waiting on you",
                        "Your complaint {number} is waiting on your answer. "
                        "Reply in My Idoom or call 12.",
                    ),
                },
            ),
            DefaultTemplate(
                "resolved",
                {"number": "str", "survey_url": "url"},
                {
                    "fr": (
                        "Réclamation {number} résolue",
                        "Votre réclamation {number} est résolue. Donnez-nous votre avis : "
                        "{survey_url}",
                    ),
                    "ar": (
                        "تم حل الشكوى {number}",
                        "تم حل شكواكم {number}. شاركونا رأيكم: {survey_url}",
                    ),
                    "en": (
                        "Complaint {number} resolved",
                        "Your complaint {number} is resolved. Tell us how we did: {survey_url}",
                    ),
                },
            ),
            DefaultTemplate(
                "closed",
                {"number": "str"},
                {
                    "fr": (
                        "Réclamation {number} fermée",
                        "Votre réclamation {number} est fermée. Merci de votre confiance.",
                    ),
                    "ar": ("تم غلق الشكوى {number}", "تم غلق شكواكم {number}. شكرا لثقتكم."),
                    "en": (
                        "Complaint {number} closed",
                        "Your complaint {number} is closed. Thank you for your trust.",
                    ),
                },
            ),
        ],
        condition={"status": ["pending_customer", "resolved", "closed"]},
        variant_field="status",
    ),
    DefaultRoute(
        "tickets.incident.customer_affected",
        "service",
        True,
        INTERRUPTING,
        _one(
            {"service": "str", "area_label": "str", "estimated_end_at": "datetime"},
            {
                "fr": (
                    "Perturbation {service}",
                    "Algérie Télécom : perturbation {service} à {area_label}. "
                    "Rétablissement prévu le {estimated_end_at}. Veuillez nous excuser.",
                ),
                "ar": (
                    "اضطراب في خدمة {service}",
                    "اتصالات الجزائر: اضطراب في خدمة {service} في {area_label}. "
                    "العودة المتوقعة {estimated_end_at}. نعتذر عن الإزعاج.",
                ),
                "en": (
                    "{service} disruption",
                    "Algérie Télécom: {service} disruption in {area_label}. "
                    "Expected back by {estimated_end_at}. We apologise.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "tickets.incident.customer_restored",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"service": "str", "area_label": "str"},
            {
                "fr": (
                    "{service} rétabli",
                    "Algérie Télécom : le service {service} est rétabli à {area_label}. "
                    "Merci de votre patience.",
                ),
                "ar": (
                    "عودة خدمة {service}",
                    "اتصالات الجزائر: عادت خدمة {service} في {area_label}. شكرا على صبركم.",
                ),
                "en": (
                    "{service} restored",
                    "Algérie Télécom: {service} is restored in {area_label}. "
                    "Thank you for your patience.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "billing.invoice.issued",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"number": "str", "amount_centimes": "money_centimes", "due_at": "date"},
            {
                "fr": (
                    "Facture {number}",
                    "Votre facture {number} de {amount_centimes} est disponible. "
                    "A payer avant le {due_at}.",
                ),
                "ar": (
                    "الفاتورة {number}",
                    "فاتورتكم {number} بمبلغ {amount_centimes} متوفرة. يرجى الدفع قبل {due_at}.",
                ),
                "en": (
                    "Bill {number}",
                    "Your bill {number} of {amount_centimes} is ready. Please pay by {due_at}.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "billing.invoice.overdue",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"number": "str", "amount_centimes": "money_centimes"},
            {
                "fr": (
                    "Facture {number} impayée",
                    "Votre facture {number} de {amount_centimes} est en retard de paiement. "
                    "Payez-la avec Khlass ou en agence.",
                ),
                "ar": (
                    "الفاتورة {number} غير مدفوعة",
                    "فاتورتكم {number} بمبلغ {amount_centimes} متأخرة الدفع. "
                    "ادفعوها عبر خلاص أو في الوكالة.",
                ),
                "en": (
                    "Bill {number} overdue",
                    "Your bill {number} of {amount_centimes} is overdue. "
                    "Pay it with Khlass or at an agency.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "billing.payment.succeeded",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"amount_centimes": "money_centimes"},
            {
                "fr": (
                    "Paiement reçu",
                    "Nous avons bien reçu votre paiement de {amount_centimes}. Merci.",
                ),
                "ar": ("تم استلام الدفع", "تم استلام دفعكم بمبلغ {amount_centimes}. شكرا."),
                "en": (
                    "Payment received",
                    "We received your payment of {amount_centimes}. Thank you.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "billing.payment.failed",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"amount_centimes": "money_centimes"},
            {
                "fr": (
                    "Paiement refusé",
                    "Votre paiement de {amount_centimes} n'a pas abouti. "
                    "Aucun montant n'a été débité.",
                ),
                "ar": (
                    "تعذر الدفع",
                    "تعذر إتمام دفعكم بمبلغ {amount_centimes}. لم يتم خصم أي مبلغ.",
                ),
                "en": (
                    "Payment failed",
                    "Your payment of {amount_centimes} did not go through. Nothing was charged.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "billing.subscription.expiring",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"expires_at": "datetime"},
            {
                "fr": (
                    "Abonnement bientôt expiré",
                    "Votre abonnement Idoom expire le {expires_at}. "
                    "Rechargez pour rester connecté.",
                ),
                "ar": (
                    "اشتراككم على وشك الانتهاء",
                    "ينتهي اشتراككم Idoom في {expires_at}. أعيدوا الشحن للبقاء متصلين.",
                ),
                "en": (
                    "Subscription expiring",
                    "Your Idoom subscription expires on {expires_at}. Recharge to stay online.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "billing.subscription.expired",
        "service",
        False,
        INTERRUPTING,
        _one(
            {},
            {
                "fr": (
                    "Abonnement expiré",
                    "Votre abonnement Idoom a expiré. Rechargez ou demandez Idoomly (36 heures).",
                ),
                "ar": (
                    "انتهى الاشتراك",
                    "انتهى اشتراككم Idoom. أعيدوا الشحن أو اطلبوا Idoomly (36 ساعة).",
                ),
                "en": (
                    "Subscription expired",
                    "Your Idoom subscription has expired. Recharge or ask for Idoomly (36 hours).",
                ),
            },
        ),
    ),
    DefaultRoute(
        "billing.idoomly.granted",
        "service",
        True,
        INTERRUPTING,
        _one(
            {"expires_at": "datetime"},
            {
                "fr": (
                    "Idoomly activé",
                    "Idoomly est activé : votre connexion est rétablie jusqu'au {expires_at}.",
                ),
                "ar": ("تم تفعيل Idoomly", "تم تفعيل Idoomly: اتصالكم متاح حتى {expires_at}."),
                "en": ("Idoomly on", "Idoomly is on: you are connected until {expires_at}."),
            },
        ),
    ),
    DefaultRoute(
        "billing.payment.refunded",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"amount_centimes": "money_centimes"},
            {
                "fr": ("Remboursement", "Nous vous avons remboursé {amount_centimes}."),
                "ar": ("استرجاع مبلغ", "تم استرجاع مبلغ {amount_centimes} لكم."),
                "en": ("Refund", "We refunded you {amount_centimes}."),
            },
        ),
    ),
    DefaultRoute(
        "billing.subscription.recharged",
        "service",
        False,
        INTERRUPTING,
        _one(
            {"expires_at": "datetime"},
            {
                "fr": (
                    "Recharge effectuée",
                    "Votre abonnement Idoom est rechargé jusqu'au {expires_at}.",
                ),
                "ar": ("تمت إعادة الشحن", "تمت إعادة شحن اشتراككم Idoom حتى {expires_at}."),
                "en": ("Recharged", "Your Idoom subscription is recharged until {expires_at}."),
            },
        ),
    ),
    DefaultRoute(
        "billing.subscription.suspended",
        "service",
        False,
        INTERRUPTING,
        _one(
            {},
            {
                "fr": (
                    "Abonnement suspendu",
                    "Votre abonnement Idoom est suspendu. Contactez le 12 ou votre agence.",
                ),
                "ar": (
                    "تم تعليق الاشتراك",
                    "تم تعليق اشتراككم Idoom. اتصلوا بالرقم 12 أو بوكالتكم.",
                ),
                "en": (
                    "Subscription suspended",
                    "Your Idoom subscription is suspended. Call 12 or visit your agency.",
                ),
            },
        ),
    ),
    DefaultRoute(
        "loyalty.reward.granted",
        "service",
        False,
        ("push", "email", "in_app", "sms"),
        _one(
            {"reward_label": "str"},
            {
                "fr": (
                    "Une récompense pour vous",
                    "Merci de votre fidélité : {reward_label} vous est offert.",
                ),
                "ar": ("مكافأة لكم", "شكرا على وفائكم: {reward_label} هدية لكم."),
                "en": ("A reward for you", "Thank you for your loyalty: {reward_label} is yours."),
            },
        ),
    ),
    DefaultRoute(
        "loyalty.tier.changed",
        "service",
        False,
        ("push", "email", "in_app", "sms"),
        _one(
            {"tier": "str"},
            {
                "fr": (
                    "Nouveau niveau",
                    "Vous êtes désormais client {tier}. Découvrez vos avantages dans My Idoom.",
                ),
                "ar": ("مستوى جديد", "أصبحتم الآن زبون {tier}. اكتشفوا مزاياكم في My Idoom."),
                "en": ("New tier", "You are now a {tier} customer. See your benefits in My Idoom."),
            },
        ),
    ),
]

_LOYALTY_POINTS_ROUTES: Final[list[DefaultRoute]] = [
    DefaultRoute(
        "loyalty.points.redeemed",
        "service",
        False,
        ("push", "email", "in_app", "sms"),
        _one(
            {"points": "int", "reward_label": "str"},
            {
                "fr": (
                    "Points échangés",
                    "Vous avez échangé {points} points contre {reward_label}.",
                ),
                "ar": ("تم استبدال النقاط", "لقد استبدلتم {points} نقطة مقابل {reward_label}."),
                "en": ("Points redeemed", "You redeemed {points} points for {reward_label}."),
            },
        ),
    ),
    DefaultRoute(
        "loyalty.points.expired",
        "service",
        False,
        ("push", "email", "in_app", "sms"),
        _one(
            {"points": "int"},
            {
                "fr": ("Points expirés", "{points} points de fidélité ont expiré."),
                "ar": ("نقاط منتهية الصلاحية", "انتهت صلاحية {points} نقطة وفاء."),
                "en": ("Points expired", "{points} loyalty points have expired."),
            },
        ),
    ),
]

DEFAULT_ROUTES.extend(_LOYALTY_POINTS_ROUTES)

# Campaign messages have no event; their templates are keyed by a campaign type.
CAMPAIGN_TEMPLATES: Final[list[tuple[str, DefaultTemplate]]] = [
    (
        "campaign.offer",
        DefaultTemplate(
            "",
            {"offer": "str"},
            {
                "fr": (
                    "Offre Idoom",
                    "Algérie Télécom : {offer}. STOP au 12 pour ne plus recevoir nos offres.",
                ),
                "ar": (
                    "عرض Idoom",
                    "اتصالات الجزائر: {offer}. للتوقف عن تلقي العروض اتصلوا بالرقم 12.",
                ),
                "en": (
                    "Idoom offer",
                    "Algérie Télécom: {offer}. Call 12 to stop receiving our offers.",
                ),
            },
        ),
    )
]
