"""The multi-language word lists behind change intelligence (EN, FR, DE, ES, IT, NL, PT).

Two kinds of lists live here:

* `CATEGORIES`: what a policy change is about. Each category has a short, stable id and,
  per language, the terms that signal it. A term is matched at the start of a word in
  text folded by `fold_words` (lower case, accents and punctuation dropped), so a term is
  a stem ("retain" finds "retained", "retention") unless it ends with a space, which makes
  it a whole word ("dpo "). Terms may span words ("third part").
* Word classes that decide whether a small edit is material (`NEGATIONS`, `MODALS`),
  which edits are harmless (`ARTICLES`, `REFERENCE_WORDS`), and what a date line looks like
  (`MONTHS`, `DATE_LINE_TERMS`).

The lists name only general vocabulary of privacy policies and terms of service; they are
meant to be extended, never to name a site.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_COMBINING_MARKS = re.compile(r"[\u0300-\u036f]")
_WORD_CHARACTERS = re.compile(r"[^\W_]+|@")


def fold_words(text: str) -> str:
    """Lower case, accents stripped, every non-alphanumeric run (but `@`) turned into one space.

    The result starts and ends with a space, so that ` term` finds a word start.
    """
    bare = text.casefold()
    if not text.isascii():  # ASCII has no accent to strip
        bare = _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", bare))
    return " " + " ".join(_WORD_CHARACTERS.findall(bare)) + " "


@dataclass(frozen=True)
class Category:
    id: str
    title: str
    terms: dict[str, tuple[str, ...]]


# fmt: off
CATEGORIES: tuple[Category, ...] = (
    Category(
        "data-collected",
        "Data collected",
        {
            "en": ("collect", "personal information", "personal data", "information we",
                   "data we", "geolocation", "precise location", "location data", "biometric",
                   "date of birth", "place of birth", "phone number", "email address",
                   "ip address", "device identifier", "photo verification", "inferences"),
            "fr": ("collect", "recueill", "donnees personnelles", "donnees a caractere",
                   "geolocalisation", "localisation", "biometrique", "date de naissance",
                   "lieu de naissance", "numero de telephone", "adresse ip"),
            "de": ("erheb", "erhoben", "erfass", "personenbezogen", "standortdaten", "standort",
                   "biometrisch", "geburtsdatum", "geburtsort", "telefonnummer", "ip adresse"),
            "es": ("recopil", "recogemos", "recabamos", "datos personales", "geolocalizacion",
                   "ubicacion", "biometric", "fecha de nacimiento", "numero de telefono"),
            "it": ("raccogli", "raccolt", "dati personali", "geolocalizzazione", "posizione",
                   "biometric", "data di nascita", "numero di telefono"),
            "nl": ("verzamel", "persoonsgegevens", "locatiegegevens", "locatie", "biometrisch",
                   "geboortedatum", "telefoonnummer"),
            "pt": ("coleta", "coletamos", "recolh", "dados pessoais", "geolocalizacao",
                   "localizacao", "biometric", "data de nascimento", "numero de telefone"),
        },
    ),
    Category(
        "purposes",
        "Purposes and legal bases",
        {
            "en": ("purpose", "legal basis", "legal bases", "legitimate interest", "we use",
                   "use your", "personalis", "personaliz", "advertis", "marketing", "profiling",
                   "analytics", "train", "artificial intelligence", "ai "),
            "fr": ("finalite", "base legale", "base juridique", "interet legitime", "utilisons",
                   "personnalis", "publicit", "marketing", "profilage", "prospection"),
            "de": ("zweck", "rechtsgrundlage", "berechtigte interesse", "berechtigten interesse",
                   "verwenden", "nutzen wir", "personalisier", "werbung", "werbe", "marketing",
                   "profiling"),
            "es": ("finalidad", "base legal", "base juridica", "interes legitimo", "utilizamos",
                   "usamos", "personaliz", "publicidad", "marketing", "elaboracion de perfiles"),
            "it": ("finalita", "base giuridica", "interesse legittimo", "utilizziamo",
                   "personalizz", "pubblicit", "marketing", "profilazione"),
            "nl": ("doeleinde", "doel ", "rechtsgrond", "gerechtvaardigd belang", "gebruiken",
                   "personalis", "reclame", "marketing", "profilering"),
            "pt": ("finalidade", "base legal", "interesse legitimo", "utilizamos", "usamos",
                   "personaliz", "publicidade", "marketing", "definicao de perfis"),
        },
    ),
    Category(
        "sharing",
        "Sharing and third parties",
        {
            "en": ("share", "sharing", "third part", "disclos", "partner", "processor",
                   "service provider", "affiliate", "recipient", "vendor", "joint controller",
                   "beneficiar", "sdk"),
            "fr": ("partag", "tiers", "destinataire", "sous traitant", "prestataire", "filiale",
                   "communiquons", "transmett", "responsable conjoint", "responsables conjoints"),
            "de": ("weitergabe", "weitergeb", "dritte", "empfanger", "auftragsverarbeit",
                   "dienstleister", "partner", "konzern", "gemeinsam verantwortlich",
                   "gemeinsame verantwortlich"),
            "es": ("compart", "terceros", "destinatario", "encargado", "proveedor", "filial",
                   "corresponsable"),
            "it": ("condivi", "terzi", "destinatar", "responsabile del trattamento", "fornitor",
                   "affiliat", "contitolar"),
            "nl": ("delen", "gedeeld", "derde", "ontvanger", "verwerker", "dienstverlener",
                   "gelieerde"),
            "pt": ("compartilh", "partilh", "terceiros", "destinatario", "operador",
                   "fornecedor", "afiliad"),
        },
    ),
    Category(
        "sale",
        "Sale of personal data",
        {
            "en": ("sell", "sold ", "sale of", "sales of"),
            "fr": ("vendons", "vendre", "vendu", "vente de"),
            "de": ("verkauf", "verkauft"),
            "es": ("vender", "vendemos", "vendido", "venta de"),
            "it": ("vendere", "vendiamo", "venduto", "vendita di"),
            "nl": ("verkopen", "verkocht", "verkoop", "verkoopt"),
            "pt": ("vender", "vendemos", "vendido", "venda de"),
        },
    ),
    Category(
        "retention",
        "Retention and deletion",
        {
            "en": ("retain", "retention", "keep your", "stored for", "store your", "delete",
                   "deletion", "erase", "storage period", "anonymi"),
            "fr": ("conserv", "supprim", "suppression", "effac", "archiv", "anonymis"),
            "de": ("aufbewahr", "speicherdauer", "gespeichert", "speichern", "losch", "anonymis"),
            "es": ("conserv", "suprim", "supresion", "elimin", "plazo", "anonimiz"),
            "it": ("conserv", "cancell", "elimin", "anonimizz"),
            "nl": ("bewaar", "verwijder", "wissen", "anonimis"),
            "pt": ("conserv", "retenc", "armazen", "elimin", "exclu", "anonimiz"),
        },
    ),
    Category(
        "security",
        "Security",
        {
            "en": ("secur", "encrypt", "breach", "safeguard", "unauthori", "fraud"),
            "fr": ("securit", "chiffr", "violation de donnees", "fraud"),
            "de": ("sicherheit", "verschlussel", "datenpanne", "schutzmassnahm", "betrug"),
            "es": ("seguridad", "cifrad", "encript", "brecha", "fraude"),
            "it": ("sicurezza", "crittograf", "cifrat", "violazione dei dati", "frod"),
            "nl": ("beveilig", "versleutel", "datalek", "fraude"),
            "pt": ("seguranca", "criptograf", "violacao de dados", "fraude"),
        },
    ),
    Category(
        "rights",
        "User rights and choices",
        {
            "en": ("right to", "your rights", "rights ", "access to your", "rectif", "erasure",
                   "object to", "objection", "opt out", "opt in", "withdraw", "complain",
                   "supervisory authorit", "portability", "restrict", "your choices",
                   "unsubscribe", "appeal", "delete your account", "consent"),
            "fr": ("droit", "rectification", "opposition", "opposer", "retirer", "retrait",
                   "reclamation", "autorite de controle", "cnil", "portabilite", "limitation",
                   "desinscri", "desabonn", "consentement", "recours", "retractation",
                   "retracter"),
            "de": ("recht ", "rechte", "auskunft", "berichtigung", "widerspruch", "widerruf",
                   "beschwerde", "aufsichtsbehorde", "ubertragbarkeit", "einschrankung",
                   "einwilligung", "abmelden"),
            "es": ("derecho", "rectificacion", "oposicion", "oponerse", "retirar",
                   "reclamacion", "autoridad de control", "portabilidad", "limitacion",
                   "consentimiento", "darse de baja"),
            "it": ("diritt", "rettifica", "opposizione", "opporsi", "revoca", "reclamo",
                   "autorita di controllo", "garante", "portabilita", "limitazione", "consenso"),
            "nl": ("recht ", "rechten", "inzage", "rectificatie", "bezwaar", "intrekken",
                   "klacht", "toezichthoud", "overdraagbaarheid", "beperking", "toestemming",
                   "afmelden"),
            "pt": ("direito", "retificacao", "oposicao", "opor se", "retirar", "reclamacao",
                   "autoridade de controlo", "autoridade de controle", "portabilidade",
                   "limitacao", "consentimento", "cancelar a subscricao"),
        },
    ),
    Category(
        "children",
        "Children and age",
        {
            "en": ("child", "minor", "under the age", "age of", "years of age", "years old",
                   "parent", "guardian", "teen", "age verification", "verify your age"),
            "fr": ("enfant", "mineur", "moins de 1", "ans ou plus", "parent", "tuteur",
                   "verification de l age", "age minimum"),
            "de": ("kind", "minderjahr", "jugendlich", "eltern", "erziehungsberechtigt",
                   "unter 1", "lebensjahr", "altersverifi", "altersprufung", "mindestalter"),
            "es": ("nino", "menor", "padres", "tutor", "mayor de edad", "anos de edad",
                   "verificacion de edad", "edad minima"),
            "it": ("bambin", "minor", "genitor", "tutore", "anni di eta", "verifica dell eta",
                   "eta minima"),
            "nl": ("kind", "minderjarig", "ouder", "voogd", "jaar of ouder", "leeftijd"),
            "pt": ("crianca", "menor", "pais ou", "tutor", "anos de idade", "idade minima",
                   "verificacao de idade"),
        },
    ),
    Category(
        "transfers",
        "International transfers",
        {
            "en": ("transfer", "international", "outside the", "third countr", "adequacy",
                   "standard contractual", "cross border", "servers located", "server",
                   "european economic area", "eea "),
            "fr": ("transfert", "hors de l", "en dehors de l", "pays tiers",
                   "clauses contractuelles", "adequation", "serveur", "espace economique europeen"),
            "de": ("drittland", "drittlander", "drittstaat", "ausserhalb der", "ausserhalb des",
                   "standardvertragsklausel", "angemessenheitsbeschluss", "server", "ewr "),
            "es": ("transferencia", "terceros paises", "fuera del", "fuera de la",
                   "clausulas contractuales", "adecuacion", "servidor", "eee "),
            "it": ("trasferiment", "paesi terzi", "al di fuori", "clausole contrattuali",
                   "adeguatezza", "server", "see "),
            "nl": ("doorgifte", "derde land", "derde landen", "buiten de", "modelcontractbepaling",
                   "adequaatheid", "server", "eer "),
            "pt": ("transferencia", "paises terceiros", "fora do", "fora da",
                   "clausulas contratuais", "adequacao", "servidor", "eee "),
        },
    ),
    Category(
        "cookies",
        "Cookies and tracking",
        {
            "en": ("cookie", "tracker", "tracking", "pixel", "web beacon", "local storage",
                   "do not track", "fingerprint"),
            "fr": ("cookie", "traceur", "temoin", "balise", "pisteur"),
            "de": ("cookie", "tracking", "tracker", "zahlpixel", "pixel"),
            "es": ("cookie", "rastreo", "rastread", "baliza", "pixel"),
            "it": ("cookie", "tracciament", "traccian", "tracker", "pixel"),
            "nl": ("cookie", "tracker", "tracking", "pixel", "volgtechnolog"),
            "pt": ("cookie", "rastreamento", "rastreador", "pixel"),
        },
    ),
    Category(
        "contact",
        "Contact and controller",
        {
            "en": ("contact", "email us", "write to us", "data protection officer", "dpo ",
                   "controller", "representative", "registered office", "address", "@",
                   "telephone", "phone "),
            "fr": ("contact", "nous ecrire", "delegue a la protection", "responsable du traitement",
                   "representant", "siege social", "adresse", "courrier", "telephone"),
            "de": ("kontakt", "datenschutzbeauftragt", "verantwortliche", "verantwortlicher",
                   "vertreter", "anschrift", "adresse", "impressum", "telefon", "sitz "),
            "es": ("contacto", "contactar", "delegado de proteccion", "responsable del tratamiento",
                   "representante", "domicilio", "direccion", "telefono"),
            "it": ("contatt", "responsabile della protezione", "titolare del trattamento",
                   "rappresentante", "sede legale", "indirizzo", "telefono"),
            "nl": ("contact", "functionaris voor gegevensbescherming",
                   "verwerkingsverantwoordelijke", "vertegenwoordiger", "adres", "telefoon"),
            "pt": ("contato", "contacto", "encarregado", "responsavel pelo tratamento",
                   "controlador", "representante", "sede ", "endereco", "morada", "telefone"),
        },
    ),
    Category(
        "legal",
        "Legal terms, disputes and governing law",
        {
            "en": ("arbitrat", "governing law", "governed by", "jurisdiction", "court",
                   "dispute", "liabilit", "liable", "indemn", "warrant", "class action",
                   "terminat", "waive", "licen", "refund", "contract", "agreement", "suspen"),
            "fr": ("arbitrage", "loi applicable", "droit applicable", "juridiction", "tribunal",
                   "litige", "responsabilite", "resiliation", "mediat", "licence", "garantie",
                   "rembourse", "contrat", "suspen"),
            "de": ("schieds", "anwendbares recht", "gerichtsstand", "gericht", "streit",
                   "haftung", "haften", "kundigung", "gewahrleistung", "lizenz", "erstattung",
                   "vertrag", "sperr"),
            "es": ("arbitraje", "ley aplicable", "jurisdiccion", "tribunal", "disputa", "litigio",
                   "responsabilidad", "rescision", "licencia", "garantia", "reembolso",
                   "contrato", "suspen"),
            "it": ("arbitrato", "legge applicabile", "giurisdizione", "foro ", "tribunale",
                   "controversi", "responsabilita", "recesso", "licenza", "garanzia",
                   "rimborso", "contratto", "sospen"),
            "nl": ("arbitrage", "toepasselijk recht", "rechtbank", "geschil", "aansprakelijk",
                   "opzegging", "beeindig", "licentie", "garantie", "terugbetaling",
                   "overeenkomst", "opschort"),
            "pt": ("arbitragem", "lei aplicavel", "jurisdicao", "tribunal", "foro ", "litigio",
                   "responsabilidade", "rescisao", "licenca", "garantia", "reembolso",
                   "contrato", "suspen"),
        },
    ),
    Category(
        "changes",
        "Changes to the policy",
        {
            "en": ("changes to this", "change this", "changes to these", "amend", "we may update",
                   "update this", "notify you", "new version", "revis"),
            "fr": ("modification", "modifier", "modifions", "avenant", "nouvelle version",
                   "vous informer"),
            "de": ("anderung", "andern", "neue fassung", "aktualisier"),
            "es": ("modificacion", "modificar", "cambios en", "nueva version", "actualizar"),
            "it": ("modific", "aggiorn", "nuova versione"),
            "nl": ("wijzig", "aanpass", "nieuwe versie", "bijwerk"),
            "pt": ("alteracao", "alteracoes", "alterar", "modific", "nova versao", "atualizar"),
        },
    ),
)
# fmt: on

CATEGORY_IDS: tuple[str, ...] = tuple(category.id for category in CATEGORIES)


def _term_pattern(terms: list[str]) -> re.Pattern[str]:
    """One regex for a list of terms: each found at a word start; trailing space = whole word.

    Meant for `search`, to tell whether any term occurs: a term that starts with a shorter one
    is left out (it adds no occurrence), and the others are merged into a trie, so that at each
    word start the regex engine tries a letter's few continuations, not every term.
    """
    folded = {fold_words(term).rstrip() + (" " if term.endswith(" ") else "") for term in terms}
    trie: dict[str, dict] = {}  # a term ends at an empty node
    for term in sorted(folded):  # after the shorter terms it starts with
        node = trie
        for character in term:
            if node.get(character) == {}:
                break
            node = node.setdefault(character, {})
    return re.compile(_trie_regex(trie))


def _trie_regex(node: dict[str, dict]) -> str:
    """The regex of the terms of a trie (of its node's continuations)."""
    if not node:
        return ""
    branches = [re.escape(character) + _trie_regex(rest) for character, rest in node.items()]
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


_CATEGORY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (c.id, _term_pattern([term for terms in c.terms.values() for term in terms]))
    for c in CATEGORIES
)


def categories_in(text: str) -> tuple[str, ...]:
    """The ids of the categories whose terms occur in `text`, in lexicon order."""
    return categories_in_folded(fold_words(text))


def categories_in_folded(folded: str) -> tuple[str, ...]:
    """`categories_in` of a text already folded by `fold_words`."""
    return tuple(category for category, pattern in _CATEGORY_PATTERNS if pattern.search(folded))


def _words(*lists: str) -> frozenset[str]:
    return frozenset(word for words in lists for word in words.split())


# Words that turn a statement around: an edit adding or removing one is never a typo.
NEGATIONS = _words(
    "not no never none nor without cannot can't won't don't doesn't isn't aren't",  # en
    "ne pas jamais aucun aucune sans ni",  # fr
    "nicht kein keine keinen keinem keiner nie niemals ohne weder",  # de
    "no nunca ningun ninguna ni sin tampoco",  # es
    "non mai nessun nessuna senza ne",  # it
    "niet geen nooit zonder noch",  # nl
    "nao nunca nenhum nenhuma sem nem",  # pt
)

# Words that set how binding a statement is ("may" → "will" changes a promise).
MODALS = _words(
    "may might must shall should will would can could only always required optional",  # en
    "peut peuvent pourra pourrons pourrait doit doivent devra devons obligatoire facultatif "
    "uniquement toujours",  # fr
    "kann konnen darf durfen muss mussen soll sollen wird werden nur immer pflicht "
    "freiwillig",  # de
    "puede pueden podra podemos debe deben debera solo siempre obligatorio opcional",  # es
    "puo possono potra possiamo deve devono dovra solo sempre obbligatorio facoltativo",  # it
    "kan kunnen mag mogen moet moeten zal zullen alleen altijd verplicht optioneel",  # nl
    "pode podem podera podemos deve devem devera apenas sempre obrigatorio opcional",  # pt
)

# Articles: adding or dropping one is a typo-level edit.
ARTICLES = _words(
    "a an the",
    "le la les l un une des du",
    "der die das den dem des ein eine einen einem einer eines",
    "el la los las lo un una unos unas",
    "il lo la i gli le un uno una",
    "de het een",
    "o a os as um uma",
)

# Words before a number that make it a cross-reference ("Article 15.4"), not an amount.
# Matched also with a plural "s" ("Sections 3 and 4").
REFERENCE_WORDS = _words(
    "article art section subsection clause subclause paragraph subparagraph chapter point item "
    "annex appendix schedule exhibit",
    "paragraphe chapitre alinea annexe",
    "artikel abschnitt abschnitte ziffer ziff nr absatz abs kapitel anhang punkt §",
    "articulo seccion clausula apartado capitulo anexo",
    "articolo sezione clausola paragrafo capitolo allegato punto",
    "sectie paragraaf hoofdstuk bijlage lid",
    "artigo seccao secao clausula paragrafo capitulo anexo ponto",
)

# Words joining the numbers of a list of cross-references ("Sections 13 and 15").
LIST_CONNECTORS = _words(
    "and or to through", "et ou a", "und oder bis", "y o e a", "e o a", "en of tot", "e ou a"
)

# Screen-reader notes that pages add to link text ("(opens in a new window)").
NEW_WINDOW_NOTES = frozenset(
    fold_words(note).strip()
    for note in (
        "opens in a new window", "opens a new window", "opens in a new tab", "opens in new tab",
        "opens in new window", "new window", "external link",
        "ouvre une nouvelle fenetre", "s'ouvre dans une nouvelle fenetre",
        "ouvre un nouvel onglet", "nouvelle fenetre", "lien externe",
        "offnet in einem neuen fenster", "offnet in einem neuen tab", "neues fenster",
        "externer link",
        "se abre en una nueva ventana", "abre en una nueva ventana", "nueva ventana",
        "enlace externo",
        "si apre in una nuova finestra", "apre in una nuova finestra", "nuova finestra",
        "link esterno",
        "opent in een nieuw venster", "nieuw venster", "externe link",
        "abre em uma nova janela", "abre numa nova janela", "nova janela", "link externo",
    )
)  # fmt: skip

# Month names and abbreviations (accents folded), for telling a date line's edits apart.
MONTHS = _words(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec",
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
    "janv fevr avr juil",
    "januar februar marz april mai juni juli august september oktober november dezember "
    "jan feb mrz apr jun jul aug sep okt nov dez",
    "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre noviembre "
    "diciembre ene abr ago dic",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre gen mag giu lug ago set ott",
    "januari februari maart april mei juni juli augustus september oktober november december "
    "mrt okt",
    "janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro "
    "fev mai out dez",
)

# Phrases of a line that states the document's own date ("Last updated: …").
DATE_LINE_TERMS: tuple[str, ...] = (
    "last updated", "updated", "last modified", "last revised", "revised on", "revised",
    "effective date", "effective as of", "effective from", "date of last", "version",
    "mise a jour", "mis a jour", "modifiee le", "en vigueur", "date d entree",
    "stand ", "aktualisiert", "zuletzt geandert", "gultig ab", "inkrafttreten", "fassung",
    "actualizado", "actualizacion", "ultima modificacion", "vigente", "vigor",
    "aggiornat", "ultima modifica", "in vigore",
    "bijgewerkt", "laatst gewijzigd", "van kracht",
    "atualizad", "atualizacao", "ultima alteracao",
)  # fmt: skip

DATE_LINE_PATTERN = _term_pattern(list(DATE_LINE_TERMS))
