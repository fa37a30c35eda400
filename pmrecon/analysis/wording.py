"""The words the analysis writes itself: timeline texts and SLI labels, in French and English.

Input: a language and a key with its fields. Output: the text. A language without a
table gets the English one. Definitions of instants and figures stay in English in
the findings (the report translates them); only these texts follow ``language``.
"""

from __future__ import annotations

from typing import Any

TEXT = {
    "fr": {
        "impact_start": "Début de l'incident",
        "first_alert": "Première alerte",
        "acknowledged": "Prise en compte (acquittement)",
        "declared": "Incident déclaré",
        "investigation_start": "Début investigation",
        "cause_identified": "Cause identifiée",
        "mitigation_start": "Début mitigation",
        "resolution": "Résolution",
        "end": "Fin de l'incident",
        "alert_pending": "Alerte {name} en attente{on}",
        "alert_firing": "Alerte {name} déclenchée{on}",
        "alert_resolved": "Alerte {name} résolue{on}",
        "sli_breach": "{sli} de {service} au-delà du seuil ({threshold})",
        "sli_breach_open": "{sli} de {service} déjà au-delà du seuil ({threshold}) au début de la fenêtre",
        # "retour sous le seuil": no adjective to agree with the SLI (la latence, le taux).
        "sli_recovery": "{sli} de {service} : retour sous le seuil ({threshold})",
        "target_down": "{service} indisponible ({sli} sous {threshold})",
        "target_up": "{service} de nouveau disponible",
        # {count} counts every service's errors; {on} names the services that burst.
        "log_burst": "Pic d'erreurs dans les logs{on} : {count} erreurs, tous services confondus",
        "new_error": "Nouvelle erreur : {signature}{on}",
        "restart": "{service} redémarré (vu dans {metric})",
        "on": " ({what})",
        "error_ratio": "Taux d'erreur",
        "latency": "Latence {q}",
        "uptime": "Disponibilité sonde",
    },
    "en": {
        "impact_start": "Incident start",
        "first_alert": "First alert",
        "acknowledged": "Acknowledged",
        "declared": "Incident declared",
        "investigation_start": "Investigation start",
        "cause_identified": "Cause identified",
        "mitigation_start": "Mitigation start",
        "resolution": "Resolution",
        "end": "End of incident",
        "alert_pending": "Alert {name} pending{on}",
        "alert_firing": "Alert {name} firing{on}",
        "alert_resolved": "Alert {name} resolved{on}",
        "sli_breach": "{sli} of {service} beyond threshold ({threshold})",
        "sli_breach_open": "{sli} of {service} already beyond threshold ({threshold}) at window start",
        "sli_recovery": "{sli} of {service} back within threshold ({threshold})",
        "target_down": "{service} down ({sli} below {threshold})",
        "target_up": "{service} up again",
        "log_burst": "Error log burst{on}: {count} errors in all services",
        "new_error": "New error: {signature}{on}",
        "restart": "{service} restarted (seen in {metric})",
        "on": " ({what})",
        "error_ratio": "Error ratio",
        "latency": "Latency {q}",
        "uptime": "Probe uptime",
    },
}


def supported(language: str) -> str:
    """``language`` if the analysis has its words, else English."""
    return language if language in TEXT else "en"


def text(language: str, key: str, **fields: Any) -> str:
    """The text ``key`` in ``language`` (English if unknown), with ``fields`` filled in."""
    table = TEXT.get(language, TEXT["en"])
    return table[key].format(**fields)
