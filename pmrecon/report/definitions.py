"""French wording of the analysis's definitions, for the footnotes of a French report.

``findings.json`` keeps the English definitions (one contract for every tool that reads
it); a French report shows them in French. The analysis composes some definitions from
parts (the interval, the quantile, a sentence added for an incident already in progress),
so the translation goes part by part. A definition this table does not know stays in
English: a footnote is never dropped for want of a translation.
"""

from __future__ import annotations

import re

#: Whole sentences (after the interval has been translated), by their English text.
SENTENCES: dict[str, str] = {
    "Start of the first step of the earliest sustained breach (an SLI beyond its threshold for consecutive_steps samples) or of the first error-log burst, whichever is earlier.": "Début du premier pas de la plus ancienne dégradation durable (un SLI au-delà de son seuil pendant consecutive_steps échantillons) ou de la première rafale de logs d'erreur, selon ce qui arrive en premier.",
    "No SLI breach or log burst: the time the first alert of the incident became active (its activeAt, else the start of its pending or firing interval).": "Ni SLI dégradé ni rafale de logs : l'instant où la première alerte de l'incident est devenue active (son activeAt, sinon le début de son intervalle pending ou firing).",
    "The incident was already in progress at the window's start: its start is unknown.": "L'incident était déjà en cours au début de la fenêtre : son début réel est inconnu.",
    "Start of the earliest firing (not pending) interval among the incident's alerts.": "Début du plus ancien intervalle firing (pas pending) parmi les alertes de l'incident.",
    "Acknowledgement time given on the command line (--ack).": "Heure de prise en compte donnée en ligne de commande (--ack).",
    "Creation of the first Alertmanager silence matching one of the incident's alerts (no --ack given).": "Création du premier silence Alertmanager correspondant à une alerte de l'incident (pas de --ack donné).",
    "Declaration time given on the command line (--declared).": "Heure de déclaration donnée en ligne de commande (--declared).",
    "Investigation start given on the command line.": "Début de l'investigation donné en ligne de commande.",
    "Time the cause was identified, given on the command line.": "Heure d'identification de la cause, donnée en ligne de commande.",
    "First change event (deploy, rollback, config change…) after the end of the first step in breach and before resolution.": "Premier changement (déploiement, retour arrière, changement de configuration…) après la fin du premier pas dégradé et avant la résolution.",
    "No change event: end of the last step at which the most-breached SLI was within 10% of its peak excess over the threshold; it stayed lower afterwards.": "Aucun changement : fin du dernier pas où le SLI le plus dégradé était à moins de 10 % de son pic de dépassement du seuil ; il est resté plus bas ensuite.",
    "First change event after the end of the first step in breach, else the first sustained improvement of the most-breached SLI.": "Premier changement après la fin du premier pas dégradé, sinon la première amélioration durable du SLI le plus dégradé.",
    "End of the last step in breach (or of the last log burst) of the incident, once every breached SLI stayed within its threshold for stability_period.": "Fin du dernier pas dégradé (ou de la dernière rafale de logs) de l'incident, une fois chaque SLI dégradé resté sous son seuil pendant stability_period.",
    "No SLI breach or log burst: the end of the incident's last firing alert.": "Ni SLI dégradé ni rafale de logs : la fin de la dernière alerte firing de l'incident.",
    "The later of: resolution + stability_period, and the end of the incident's last firing alert.": "Le plus tardif de : résolution + stability_period, et la fin de la dernière alerte firing de l'incident.",
    "resolution − impact start.": "Résolution − début d'impact.",
    "No incident found in the window.": "Aucun incident trouvé dans la fenêtre.",
    "MTTD = first alert − impact start (negative when an alert fired before the SLIs breached).": "MTTD = première alerte − début d'impact (négatif quand une alerte s'est déclenchée avant la dégradation des SLI).",
    "MTTA = acknowledgement − first alert; only when an acknowledgement time is known.": "MTTA = prise en compte − première alerte ; seulement quand l'heure de prise en compte est connue.",
    "MTTR = resolution − impact start.": "MTTR = résolution − début d'impact.",
    "(1 − availability) × duration ÷ ((1 − slo_target) × slo_period): the share of the SLO period's error budget the incident used (above 1: budget exceeded).": "(1 − disponibilité) × durée ÷ ((1 − slo_target) × slo_period) : la part du budget d'erreur de la période du SLO consommée par l'incident (au-delà de 1 : budget dépassé).",
    "Distinct user ids in the logs, as counted by the logs source over the collected window.": "Identifiants d'utilisateurs distincts dans les logs, comptés par la source de logs sur la fenêtre collectée.",
    "Suggestion only: Critique when max error ratio ≥ impact_rules.critique.min_error_ratio or duration ≥ impact_rules.critique.min_duration; Majeur likewise with impact_rules.majeur; else Mineur.": "Simple suggestion : Critique quand le taux d'erreur max ≥ impact_rules.critique.min_error_ratio ou la durée ≥ impact_rules.critique.min_duration ; Majeur de même avec impact_rules.majeur ; sinon Mineur.",
    "Not available: no request counts (nor error ratio with throughput) in the evidence.": "Indisponible : ni comptes de requêtes (ni taux d'erreur avec débit) dans les preuves.",
}

#: Sentences with a variable part, as (English pattern, French template).
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"1 − Σbad/Σtotal \(ratio of sums\) of the request counts of every analysed service over (?P<span>.+)\."
        ),
        r"1 − Σmauvaises/Σtotal (rapport des sommes) des comptes de requêtes de chaque service analysé sur \g<span>.",
    ),
    (
        re.compile(
            r"1 − Σ\(error ratio × throughput × step\)/Σ\(throughput × step\) over (?P<span>.+): request counts estimated from per-step rates where counts were missing\."
        ),
        r"1 − Σ(taux d'erreur × débit × pas)/Σ(débit × pas) sur \g<span> : comptes de requêtes estimés à partir des débits par pas là où les comptes manquaient.",
    ),
    (
        re.compile(
            r"Mean of the uptime/probe series of every analysed service over (?P<span>.+)\."
        ),
        r"Moyenne des séries de disponibilité (up/sonde) de chaque service analysé sur \g<span>.",
    ),
    (
        re.compile(r"Σ bad requests of every analysed service over (?P<span>.+)\."),
        r"Σ des requêtes en échec de chaque service analysé sur \g<span>.",
    ),
    (
        re.compile(r"Highest per-step error ratio of any service over (?P<span>.+)\."),
        r"Plus haut taux d'erreur par pas, tous services confondus, sur \g<span>.",
    ),
    (
        re.compile(
            r"Highest (?P<q>p\d+(?:\.\d+)?) latency \(highest quantile collected\) of any service over (?P<span>.+)\."
        ),
        r"Plus haute latence \g<q> (le plus haut quantile collecté), tous services confondus, sur \g<span>.",
    ),
    (
        re.compile(r"Highest (?P<q>p\d+(?:\.\d+)?) latency of any service over (?P<span>.+)\."),
        r"Plus haute latence \g<q>, tous services confondus, sur \g<span>.",
    ),
    (
        re.compile(r"Error-level log documents in the buckets overlapping (?P<span>.+)\."),
        r"Documents de log de niveau erreur dans les intervalles qui recouvrent \g<span>.",
    ),
]

#: The intervals the analysis names, in French.
SPANS = {
    "(impact start, resolution]": "]début d'impact, résolution]",
    "the whole window (no incident found)": "toute la fenêtre (aucun incident trouvé)",
}


def _sentences(text: str) -> list[str]:
    """Split a definition into sentences (a full stop followed by a space and a capital)."""
    return re.split(r"(?<=\.) (?=[A-Z])", text)


def to_french(definition: str) -> str:
    """The French wording of ``definition``, sentence by sentence; unknown ones unchanged."""
    out = []
    for sentence in _sentences(definition.strip()):
        if sentence in SENTENCES:
            out.append(SENTENCES[sentence])
            continue
        for pattern, template in PATTERNS:
            m = pattern.fullmatch(sentence)
            if m and m.groupdict().get("span", "") in SPANS:
                out.append(m.expand(template).replace(m["span"], SPANS[m["span"]]))
                break
        else:
            out.append(sentence)
    return " ".join(out)
