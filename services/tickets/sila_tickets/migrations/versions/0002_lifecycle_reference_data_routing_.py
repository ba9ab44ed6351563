"""lifecycle, reference data, routing, incidents, surveys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:23:06.091687
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from sila_common.db import JsonDoc

# Frozen shapes of the reference tables as this revision creates them.
_subcategories = sa.table(
    "subcategories",
    sa.column("code", sa.String),
    sa.column("category", sa.String),
    sa.column("label_fr", sa.String),
    sa.column("label_en", sa.String),
    sa.column("script", JsonDoc),
    sa.column("active", sa.Boolean),
)
_sla_policies = sa.table(
    "sla_policies",
    *(
        sa.column(name, sa.String)
        for name in (
            "key",
            "category",
            "subcategory",
            "priority",
            "first_response_kind",
            "resolution_kind",
        )
    ),
    sa.column("first_response_amount", sa.Integer),
    sa.column("resolution_amount", sa.Integer),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_queues = sa.table(
    "queues",
    sa.column("code", sa.String),
    sa.column("label", sa.String),
    sa.column("strategy", sa.String),
)
_questionnaires = sa.table(
    "questionnaires",
    sa.column("code", sa.String),
    sa.column("title", sa.String),
    sa.column("language", sa.String),
    sa.column("document", JsonDoc),
    sa.column("created_at", sa.DateTime(timezone=True)),
)

# The reference rows as this revision loaded them (frozen: once sila_tickets.seed and the
# domain's catalogue, SLA policies and queues; today's code may change, this may not).
SUBCATEGORIES: list[dict[str, Any]] = [
    {
        "code": "no_connection",
        "category": "technical",
        "label_fr": "Pas de connexion",
        "label_en": "No connection",
        "script": [
            {
                "key": "subscription_active",
                "text": "L'abonnement est-il actif (recharge valide) ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
            {
                "key": "modem_restarted",
                "text": "Le client a-t-il redémarré le modem ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
            {
                "key": "modem_lights",
                "text": "État des voyants du modem",
                "type": "choice",
                "options": [
                    "tous éteints",
                    "power seul",
                    "DSL/PON clignotant",
                    "DSL/PON fixe, internet rouge",
                    "tous normaux",
                ],
                "required": True,
            },
            {
                "key": "since",
                "text": "Depuis quand ?",
                "type": "text",
                "options": [],
                "required": True,
            },
        ],
        "active": True,
    },
    {
        "code": "slow_line",
        "category": "technical",
        "label_fr": "Débit lent",
        "label_en": "Slow line",
        "script": [
            {
                "key": "subscription_active",
                "text": "L'abonnement est-il actif (recharge valide) ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
            {
                "key": "measured_mbps",
                "text": "Débit mesuré (Mbit/s)",
                "type": "number",
                "options": [],
                "required": True,
            },
            {
                "key": "wired_test",
                "text": "Le test a-t-il été fait en filaire ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
            {
                "key": "peak_hours_only",
                "text": "Seulement aux heures de pointe ?",
                "type": "yes_no",
                "options": [],
                "required": False,
            },
        ],
        "active": True,
    },
    {
        "code": "line_cut",
        "category": "technical",
        "label_fr": "Ligne coupée",
        "label_en": "Line cut",
        "script": [
            {
                "key": "dial_tone",
                "text": "Y a-t-il une tonalité sur le fixe ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
            {
                "key": "visible_damage",
                "text": "Câble visiblement endommagé ?",
                "type": "yes_no",
                "options": [],
                "required": False,
            },
            {
                "key": "neighbours_affected",
                "text": "Les voisins sont-ils touchés ?",
                "type": "yes_no",
                "options": [],
                "required": False,
            },
        ],
        "active": True,
    },
    {
        "code": "frequent_disconnections",
        "category": "technical",
        "label_fr": "Coupures fréquentes",
        "label_en": "Frequent disconnections",
        "script": [
            {
                "key": "subscription_active",
                "text": "L'abonnement est-il actif (recharge valide) ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
            {
                "key": "modem_restarted",
                "text": "Le client a-t-il redémarré le modem ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
            {
                "key": "modem_lights",
                "text": "État des voyants du modem",
                "type": "choice",
                "options": [
                    "tous éteints",
                    "power seul",
                    "DSL/PON clignotant",
                    "DSL/PON fixe, internet rouge",
                    "tous normaux",
                ],
                "required": True,
            },
            {
                "key": "per_day",
                "text": "Nombre de coupures par jour",
                "type": "number",
                "options": [],
                "required": False,
            },
        ],
        "active": True,
    },
    {
        "code": "no_dial_tone",
        "category": "technical",
        "label_fr": "Pas de tonalité",
        "label_en": "No dial tone",
        "script": [
            {
                "key": "other_handset",
                "text": "Testé avec un autre poste ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            }
        ],
        "active": True,
    },
    {
        "code": "billing_dispute",
        "category": "administrative",
        "label_fr": "Contestation de facture",
        "label_en": "Billing dispute",
        "script": [
            {
                "key": "invoice_number",
                "text": "Numéro de la facture contestée",
                "type": "text",
                "options": [],
                "required": True,
            },
            {
                "key": "disputed_amount_dzd",
                "text": "Montant contesté (DZD)",
                "type": "number",
                "options": [],
                "required": True,
            },
            {
                "key": "already_paid",
                "text": "La facture a-t-elle été payée ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
        ],
        "active": True,
    },
    {
        "code": "payment_not_credited",
        "category": "administrative",
        "label_fr": "Paiement non pris en compte",
        "label_en": "Payment not credited",
        "script": [
            {
                "key": "payment_method",
                "text": "Moyen de paiement",
                "type": "choice",
                "options": ["Edahabia", "CIB", "Khlass/CCP", "agence"],
                "required": True,
            },
            {
                "key": "payment_reference",
                "text": "Référence du paiement",
                "type": "text",
                "options": [],
                "required": True,
            },
        ],
        "active": True,
    },
    {
        "code": "change_of_address",
        "category": "administrative",
        "label_fr": "Changement d'adresse",
        "label_en": "Change of address",
        "script": [
            {
                "key": "new_address",
                "text": "Nouvelle adresse",
                "type": "text",
                "options": [],
                "required": True,
            },
            {
                "key": "documents_provided",
                "text": "Justificatif de domicile fourni ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
        ],
        "active": True,
    },
    {
        "code": "contract_renewal",
        "category": "administrative",
        "label_fr": "Renouvellement de contrat",
        "label_en": "Contract renewal",
        "script": [
            {
                "key": "identity_checked",
                "text": "Pièce d'identité vérifiée ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            }
        ],
        "active": True,
    },
    {
        "code": "subscription_request",
        "category": "commercial",
        "label_fr": "Demande d'abonnement",
        "label_en": "Subscription request",
        "script": [
            {
                "key": "offer",
                "text": "Offre souhaitée",
                "type": "choice",
                "options": [
                    "Idoom Fixe",
                    "Idoom ADSL",
                    "Idoom VDSL",
                    "Idoom 4G LTE",
                    "Idoom Fibre",
                ],
                "required": True,
            },
            {
                "key": "eligibility_checked",
                "text": "Éligibilité de la ligne vérifiée ?",
                "type": "yes_no",
                "options": [],
                "required": True,
            },
        ],
        "active": True,
    },
    {
        "code": "offer_change",
        "category": "commercial",
        "label_fr": "Changement d'offre",
        "label_en": "Offer change",
        "script": [
            {
                "key": "target_offer",
                "text": "Offre visée",
                "type": "text",
                "options": [],
                "required": True,
            }
        ],
        "active": True,
    },
    {
        "code": "promotion_information",
        "category": "commercial",
        "label_fr": "Information sur une promotion",
        "label_en": "Promotion information",
        "script": [],
        "active": True,
    },
]

SLA_POLICIES: list[dict[str, Any]] = [
    {
        "key": "technical/*/*",
        "category": "technical",
        "subcategory": None,
        "priority": None,
        "first_response_kind": "working_hours",
        "first_response_amount": 4,
        "resolution_kind": "calendar_hours",
        "resolution_amount": 48,
    },
    {
        "key": "technical/*/critical",
        "category": "technical",
        "subcategory": None,
        "priority": "critical",
        "first_response_kind": "working_hours",
        "first_response_amount": 4,
        "resolution_kind": "calendar_hours",
        "resolution_amount": 24,
    },
    {
        "key": "technical/*/high",
        "category": "technical",
        "subcategory": None,
        "priority": "high",
        "first_response_kind": "working_hours",
        "first_response_amount": 4,
        "resolution_kind": "calendar_hours",
        "resolution_amount": 48,
    },
    {
        "key": "technical/*/normal",
        "category": "technical",
        "subcategory": None,
        "priority": "normal",
        "first_response_kind": "working_hours",
        "first_response_amount": 4,
        "resolution_kind": "calendar_hours",
        "resolution_amount": 48,
    },
    {
        "key": "technical/*/low",
        "category": "technical",
        "subcategory": None,
        "priority": "low",
        "first_response_kind": "working_hours",
        "first_response_amount": 4,
        "resolution_kind": "calendar_hours",
        "resolution_amount": 72,
    },
    {
        "key": "administrative/*/*",
        "category": "administrative",
        "subcategory": None,
        "priority": None,
        "first_response_kind": "working_days",
        "first_response_amount": 1,
        "resolution_kind": "working_days",
        "resolution_amount": 7,
    },
    {
        "key": "commercial/*/*",
        "category": "commercial",
        "subcategory": None,
        "priority": None,
        "first_response_kind": "working_days",
        "first_response_amount": 1,
        "resolution_kind": "working_days",
        "resolution_amount": 5,
    },
]

QUEUES: list[dict[str, Any]] = [
    {"code": "technical", "label": "Service technique", "strategy": "round_robin"},
    {"code": "billing", "label": "Facturation et administratif", "strategy": "round_robin"},
    {"code": "commercial", "label": "Service commercial", "strategy": "round_robin"},
]

QUESTIONNAIRES: list[dict[str, Any]] = [
    {
        "code": "ticket-satisfaction",
        "title": "Votre avis sur le traitement de votre demande",
        "language": "fr",
        "document": {
            "title": "Votre avis sur le traitement de votre demande",
            "language": "fr",
            "questions": [
                {
                    "key": "csat",
                    "text": "Êtes-vous satisfait(e) du traitement ?",
                    "type": "scale",
                    "min": 1,
                    "max": 5,
                },
                {
                    "key": "nps",
                    "text": "Recommanderiez-vous Algérie Télécom (0 à 10) ?",
                    "type": "scale",
                    "min": 0,
                    "max": 10,
                },
                {
                    "key": "recommend",
                    "text": "Recommanderiez-vous nos services ?",
                    "type": "single_choice",
                    "options": ["yes", "no", "maybe"],
                },
                {"key": "comment", "text": "Un commentaire ?", "type": "open"},
            ],
        },
    },
    {
        "code": "thesis-2025",
        "title": "Le management de la relation client au sein d'Algérie Télécom",
        "language": "fr",
        "document": {
            "title": "Le management de la relation client au sein d'Algérie Télécom",
            "language": "fr",
            "source": "Annex of the field study in seed/ (107 respondents, Tizi-Ouzou, 2025)",
            "questions": [
                {
                    "key": "sexe",
                    "text": "Sexe",
                    "type": "single_choice",
                    "options": ["Homme", "Femme"],
                },
                {
                    "key": "age",
                    "text": "Âge",
                    "type": "single_choice",
                    "options": ["Moins de 25 ans", "25-35 ans", "36-45 ans", "Plus de 45 ans"],
                },
                {
                    "key": "statut",
                    "text": "Vous êtes",
                    "type": "single_choice",
                    "options": ["Client d'Algérie Télécom", "Employé d'Algérie Télécom"],
                },
                {
                    "key": "q1_satisfaction",
                    "text": "Selon vous, la qualité de la relation client chez Algérie "
                    "Télécom est-elle satisfaisante ?",
                    "type": "single_choice",
                    "scale": True,
                    "options": [
                        "Très satisfaisante",
                        "Satisfaisante",
                        "Moyenne",
                        "Insatisfaisante",
                        "Très insatisfaisante",
                    ],
                },
                {"key": "q1_pourquoi", "text": "Pourquoi ?", "type": "open"},
                {
                    "key": "q2_problemes",
                    "text": "Quels types de problèmes avez-vous rencontrés dans votre "
                    "interaction avec le service client d'Algérie Télécom ?",
                    "type": "multiple_choice",
                    "other": True,
                    "options": [
                        "Temps d'attente long",
                        "Manque de professionnalisme",
                        "Mauvaise communication",
                        "Résolution lente des problèmes",
                    ],
                },
                {
                    "key": "q3_frequence",
                    "text": "À quelle fréquence contactez-vous le service client ?",
                    "type": "single_choice",
                    "options": [
                        "Rarement",
                        "Une fois par mois",
                        "Une fois par semaine",
                        "Très fréquemment",
                    ],
                },
                {
                    "key": "q4_canaux_efficaces",
                    "text": "Les canaux de communication mis à disposition (téléphone, "
                    "agence, application, site web, etc.) sont-ils efficaces ?",
                    "type": "single_choice",
                    "options": ["Oui, tout à fait", "Moyennement", "Non, pas du tout"],
                },
                {"key": "q4_pourquoi", "text": "Si non, pourquoi ?", "type": "open"},
                {
                    "key": "q5_employes_formes",
                    "text": "Pensez-vous que les employés d'Algérie Télécom sont bien "
                    "formés pour gérer la relation client ?",
                    "type": "single_choice",
                    "options": ["Oui", "Non", "Je ne sais pas"],
                },
                {"key": "q5_suggestions", "text": "Suggestions d'amélioration", "type": "open"},
                {
                    "key": "q6_qualites",
                    "text": "Quelles qualités sont, selon vous, essentielles pour un bon "
                    "service de relation client ?",
                    "type": "open",
                },
                {
                    "key": "q7_domaine_prioritaire",
                    "text": "Quels sont les domaines où Algérie Télécom doit "
                    "prioritairement améliorer sa relation client ?",
                    "type": "multiple_choice",
                    "other": True,
                    "options": [
                        "Rapidité de réponse",
                        "Qualité d'écoute",
                        "Personnalisation du service",
                        "Suivi des réclamations",
                        "Formation du personnel",
                    ],
                },
                {
                    "key": "q8_strategies",
                    "text": "Quelles stratégies recommanderiez-vous pour améliorer le "
                    "management de la relation client chez Algérie Télécom ?",
                    "type": "open",
                },
                {
                    "key": "q9_ameliorations_remarquees",
                    "text": "Avez-vous remarqué des améliorations récentes dans la "
                    "gestion de la relation client chez Algérie Télécom ?",
                    "type": "single_choice",
                    "options": ["Oui", "Non"],
                },
                {"key": "q9_lesquelles", "text": "Si oui, lesquelles ?", "type": "open"},
                {
                    "key": "q10_recommander",
                    "text": "Seriez-vous prêt(e) à recommander les services d'Algérie "
                    "Télécom à d'autres, en fonction de votre expérience avec le "
                    "service client ?",
                    "type": "single_choice",
                    "options": ["Oui", "Non", "Peut-être"],
                },
                {"key": "q10_pourquoi", "text": "Pourquoi ?", "type": "open"},
            ],
        },
    },
]


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table(
        "calendar_holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("day", "name", name=op.f("pk_calendar_holidays")),
    )
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    op.create_table(
        "holiday_overrides",
        sa.Column(
            "id",
            sa.BigInteger(),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday_overrides")),
    )
    op.create_table(
        "incident_customers",
        sa.Column("incident_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("notified_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "customer_id", name=op.f("pk_incident_customers")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("service", sa.String(length=30), nullable=False),
        sa.Column("area_kind", sa.String(length=10), nullable=False),
        sa.Column("area_value", sa.String(length=100), nullable=False),
        sa.Column("wilaya_code", sa.String(length=2), nullable=True),
        sa.Column("area_label", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("estimated_end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("declared_by", sa.String(length=100), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(length=100), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("affected_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index(
            "ix_incidents_active_area",
            ["area_kind", "area_value"],
            unique=False,
            postgresql_where=sa.text("status = 'active'"),
        )

    op.create_table(
        "questionnaire_responses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("questionnaire_code", sa.String(length=50), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column(
            "answers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_questionnaire_responses")),
    )
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.create_index(
            "ix_questionnaire_responses_code_at",
            ["questionnaire_code", "submitted_at"],
            unique=False,
        )

    op.create_table(
        "questionnaires",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_questionnaires")),
    )
    op.create_table(
        "queue_agents",
        sa.Column("queue", sa.String(length=20), nullable=False),
        sa.Column("wilaya_code", sa.String(length=3), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("queue", "wilaya_code", "agent_id", name=op.f("pk_queue_agents")),
    )
    op.create_table(
        "queues",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_queues")),
    )
    op.create_table(
        "sla_policies",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("subcategory", sa.String(length=50), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=True),
        sa.Column("first_response_kind", sa.String(length=20), nullable=False),
        sa.Column("first_response_amount", sa.Integer(), nullable=False),
        sa.Column("resolution_kind", sa.String(length=20), nullable=False),
        sa.Column("resolution_amount", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_sla_policies")),
    )
    op.create_table(
        "subcategories",
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("label_fr", sa.String(length=200), nullable=False),
        sa.Column("label_en", sa.String(length=200), nullable=False),
        sa.Column(
            "script",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.text("(true)"), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_subcategories")),
    )
    op.create_table(
        "surveys",
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("csat", sa.Integer(), nullable=True),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("recommend", sa.String(length=5), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_surveys")),
    )
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.create_index("ix_surveys_answered_at", ["answered_at"], unique=False)

    op.create_table(
        "ticket_notes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("author", sa.String(length=100), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_notes")),
    )
    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_notes_ticket", ["ticket_id", "created_at"], unique=False)

    op.create_table(
        "ticket_transitions",
        sa.Column(
            "id",
            sa.BigInteger(),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_transitions")),
    )
    with op.batch_alter_table("ticket_transitions", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_transitions_ticket", ["ticket_id", "id"], unique=False)

    op.create_table(
        "tmf_hub_subscriptions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("partner", sa.String(length=100), nullable=False),
        sa.Column("callback", sa.String(length=2000), nullable=False),
        sa.Column("query", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tmf_hub_subscriptions")),
    )
    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("display_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("commune", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("exchange", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("olt", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("event_time", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_known_customers_area", ["wilaya_code", "commune"], unique=False)
        batch_op.create_index("ix_known_customers_exchange", ["exchange"], unique=False)
        batch_op.create_index("ix_known_customers_olt", ["olt"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commune", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("exchange", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("olt", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("service", sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column("agency", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("incident_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("first_response_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("first_response_amount", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolution_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("resolution_amount", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("warn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("breached_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalation_level", sa.String(length=10), nullable=True))
        batch_op.add_column(
            sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("reopen_count", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
        batch_op.add_column(sa.Column("first_contact_resolution", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "script_answers",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch_op.create_index("ix_tickets_assignee_status", ["assignee_id", "status"], unique=False)
        batch_op.create_index(
            "ix_tickets_breach_pending",
            ["due_at"],
            unique=False,
            postgresql_where=sa.text("breached_at IS NULL"),
        )
        batch_op.create_index("ix_tickets_incident", ["incident_id"], unique=False)
        batch_op.create_index("ix_tickets_opened_id", ["opened_at", "id"], unique=False)
        batch_op.create_index("ix_tickets_resolved_at", ["resolved_at"], unique=False)
        batch_op.create_index(
            "ix_tickets_warn_pending",
            ["warn_at"],
            unique=False,
            postgresql_where=sa.text("warned_at IS NULL AND breached_at IS NULL"),
        )
        batch_op.create_index("ix_tickets_wilaya_status", ["wilaya_code", "status"], unique=False)

    # ### end Alembic commands ###
    # Reference data (hand-written): what the service reads from the first start.
    now = datetime.now(UTC)
    op.bulk_insert(_subcategories, SUBCATEGORIES)
    op.bulk_insert(_sla_policies, [{**row, "updated_at": now} for row in SLA_POLICIES])
    op.bulk_insert(_queues, QUEUES)
    op.bulk_insert(_questionnaires, [{**row, "created_at": now} for row in QUESTIONNAIRES])


def downgrade() -> None:
    # ### commands auto generated by Alembic - please adjust! ###
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_wilaya_status")
        batch_op.drop_index(
            "ix_tickets_warn_pending",
            postgresql_where=sa.text("warned_at IS NULL AND breached_at IS NULL"),
        )
        batch_op.drop_index("ix_tickets_resolved_at")
        batch_op.drop_index("ix_tickets_opened_id")
        batch_op.drop_index("ix_tickets_incident")
        batch_op.drop_index(
            "ix_tickets_breach_pending",
            postgresql_where=sa.text("breached_at IS NULL"),
        )
        batch_op.drop_index("ix_tickets_assignee_status")
        batch_op.drop_column("script_answers")
        batch_op.drop_column("first_contact_resolution")
        batch_op.drop_column("reopen_count")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("first_responded_at")
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("breached_at")
        batch_op.drop_column("warned_at")
        batch_op.drop_column("warn_at")
        batch_op.drop_column("resolution_amount")
        batch_op.drop_column("resolution_kind")
        batch_op.drop_column("first_response_amount")
        batch_op.drop_column("first_response_kind")
        batch_op.drop_column("incident_id")
        batch_op.drop_column("agency")
        batch_op.drop_column("service")
        batch_op.drop_column("olt")
        batch_op.drop_column("exchange")
        batch_op.drop_column("commune")

    with op.batch_alter_table("known_customers", schema=None) as batch_op:
        batch_op.drop_index("ix_known_customers_olt")
        batch_op.drop_index("ix_known_customers_exchange")
        batch_op.drop_index("ix_known_customers_area")
        batch_op.drop_column("erased_at")
        batch_op.drop_column("event_time")
        batch_op.drop_column("olt")
        batch_op.drop_column("exchange")
        batch_op.drop_column("commune")
        batch_op.drop_column("email")
        batch_op.drop_column("phone")
        batch_op.drop_column("display_name")
        batch_op.drop_column("channel")
        batch_op.drop_column("kind")

    op.drop_table("tmf_hub_subscriptions")
    with op.batch_alter_table("ticket_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_transitions_ticket")

    op.drop_table("ticket_transitions")
    with op.batch_alter_table("ticket_notes", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_notes_ticket")

    op.drop_table("ticket_notes")
    with op.batch_alter_table("surveys", schema=None) as batch_op:
        batch_op.drop_index("ix_surveys_answered_at")

    op.drop_table("surveys")
    op.drop_table("subcategories")
    op.drop_table("sla_policies")
    op.drop_table("queues")
    op.drop_table("queue_agents")
    op.drop_table("questionnaires")
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_questionnaire_responses_code_at")

    op.drop_table("questionnaire_responses")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_incidents_active_area",
            postgresql_where=sa.text("status = 'active'"),
        )

    op.drop_table("incidents")
    op.drop_table("incident_customers")
    op.drop_table("holiday_overrides")
    op.drop_table("calendar_years")
    op.drop_table("calendar_holidays")
    # ### end Alembic commands ###
