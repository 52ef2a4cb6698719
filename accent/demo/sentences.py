"""Offline English sentence generator for the demo corpora.

Real AESRC2020 prompts are everyday English sentences in mixed case with
punctuation, and LibriSpeech transcripts are the same kind of text upper-cased
without punctuation.  We cannot download either, so a small template grammar
over a few hundred common words makes text with the properties the text
normaliser has to cope with: abbreviations with a dot (``Mr.``, ``Baker St.``),
apostrophes (``don't``), quotes, hyphens, colons, semicolons, question and
exclamation marks.  Numbers are spelled out (no digits), as in both corpora.

Everything is driven by an explicit :class:`random.Random`, so a seed fixes the
text (``random.Random`` is specified to be reproducible across platforms).
"""

from __future__ import annotations

import random
import re
from typing import Callable, Sequence

FIRST_NAMES: tuple[str, ...] = (
    "Anna", "Peter", "Mary", "John", "Lucy", "David", "Emma", "James", "Sarah", "Thomas",
    "Alice", "George", "Helen", "Robert", "Kate", "Michael", "Laura", "Daniel", "Grace", "Paul",
    "Sophie", "William", "Julia", "Henry", "Olivia", "Jack", "Rose", "Samuel", "Lily", "Oscar",
)
SURNAMES: tuple[str, ...] = (
    "Smith", "Brown", "Taylor", "Wilson", "Johnson", "Walker", "White", "Green", "Hall", "Wood",
    "Clark", "Turner", "Parker", "Cooper", "Miller", "Baker", "Harris", "Lewis", "Young", "Evans",
)
TITLES: tuple[str, ...] = ("Mr.", "Mrs.", "Ms.", "Dr.")
STREETS: tuple[str, ...] = (
    "Baker St.", "Oxford St.", "Church St.", "King St.", "Market St.", "Station Road",
    "Park Lane", "Hill Street", "Queen St.", "Bridge Road",
)
PLACES: tuple[str, ...] = (
    "London", "Paris", "New York", "Tokyo", "Beijing", "Delhi", "Moscow", "Lisbon", "Seoul",
    "Boston", "Chicago", "Sydney", "Berlin", "Madrid", "Toronto", "Dublin", "the city",
    "the village", "the station", "the airport", "the market", "the library", "the office",
    "the hospital", "the school", "the museum", "the beach", "the park", "the river",
)
# (singular, plural)
NOUNS: tuple[tuple[str, str], ...] = (
    ("book", "books"), ("car", "cars"), ("house", "houses"), ("friend", "friends"),
    ("teacher", "teachers"), ("doctor", "doctors"), ("window", "windows"), ("letter", "letters"),
    ("table", "tables"), ("chair", "chairs"), ("phone", "phones"), ("computer", "computers"),
    ("garden", "gardens"), ("flower", "flowers"), ("tree", "trees"), ("dog", "dogs"),
    ("cat", "cats"), ("bird", "birds"), ("child", "children"), ("student", "students"),
    ("ticket", "tickets"), ("train", "trains"), ("bus", "buses"), ("bag", "bags"),
    ("story", "stories"), ("picture", "pictures"), ("song", "songs"), ("question", "questions"),
    ("answer", "answers"), ("problem", "problems"), ("idea", "ideas"), ("plan", "plans"),
    ("meeting", "meetings"), ("party", "parties"), ("game", "games"), ("room", "rooms"),
    ("kitchen", "kitchens"), ("door", "doors"), ("key", "keys"), ("box", "boxes"),
    ("bottle", "bottles"), ("cup", "cups"), ("glass", "glasses"), ("shirt", "shirts"),
    ("shoe", "shoes"), ("coat", "coats"), ("hat", "hats"), ("road", "roads"),
    ("bridge", "bridges"), ("river", "rivers"), ("mountain", "mountains"), ("island", "islands"),
    ("shop", "shops"), ("restaurant", "restaurants"), ("hotel", "hotels"), ("bank", "banks"),
    ("machine", "machines"), ("engine", "engines"), ("bicycle", "bicycles"), ("boat", "boats"),
    ("message", "messages"), ("newspaper", "newspapers"), ("film", "films"), ("camera", "cameras"),
    ("apple", "apples"), ("sandwich", "sandwiches"), ("cake", "cakes"), ("egg", "eggs"),
    ("neighbour", "neighbours"), ("manager", "managers"), ("driver", "drivers"), ("farmer", "farmers"),
    ("village", "villages"), ("holiday", "holidays"), ("lesson", "lessons"), ("report", "reports"),
    ("umbrella", "umbrellas"), ("jacket", "jackets"), ("present", "presents"), ("wallet", "wallets"),
)
MASS_NOUNS: tuple[str, ...] = (
    "water", "coffee", "tea", "milk", "bread", "rice", "music", "money", "weather",
    "information", "furniture", "homework", "traffic", "luggage", "advice", "breakfast",
    "dinner", "lunch", "soup", "cheese", "sugar", "fruit", "news", "time", "work",
)
ADJECTIVES: tuple[str, ...] = (
    "big", "small", "old", "new", "young", "beautiful", "quiet", "noisy", "happy", "sad",
    "cold", "warm", "hot", "dark", "bright", "heavy", "light", "cheap", "expensive", "strange",
    "famous", "busy", "empty", "clean", "dirty", "friendly", "careful", "tired", "hungry", "lucky",
    "green", "red", "blue", "yellow", "white", "black", "brown", "little", "long", "short",
    "wonderful", "terrible", "simple", "difficult", "important", "interesting", "modern", "ancient",
    "comfortable", "dangerous", "delicious", "enormous", "gentle", "honest", "lazy", "polite",
)
WEATHER_ADJECTIVES: tuple[str, ...] = (
    "cold", "warm", "hot", "dark", "bright", "quiet", "busy", "noisy", "sunny", "windy", "wet", "lovely",
)
HYPHENATED: tuple[str, ...] = (
    "well-known", "old-fashioned", "long-term", "second-hand", "good-looking", "part-time",
    "full-time", "high-speed", "last-minute", "open-minded", "self-made", "brand-new",
)
# (base, third person singular, past, -ing); transitive, take a noun phrase object.
VERBS: tuple[tuple[str, str, str, str], ...] = (
    ("see", "sees", "saw", "seeing"), ("find", "finds", "found", "finding"),
    ("buy", "buys", "bought", "buying"), ("sell", "sells", "sold", "selling"),
    ("bring", "brings", "brought", "bringing"), ("take", "takes", "took", "taking"),
    ("make", "makes", "made", "making"), ("carry", "carries", "carried", "carrying"),
    ("open", "opens", "opened", "opening"), ("close", "closes", "closed", "closing"),
    ("paint", "paints", "painted", "painting"), ("clean", "cleans", "cleaned", "cleaning"),
    ("need", "needs", "needed", "needing"), ("want", "wants", "wanted", "wanting"),
    ("like", "likes", "liked", "liking"), ("love", "loves", "loved", "loving"),
    ("watch", "watches", "watched", "watching"), ("fix", "fixes", "fixed", "fixing"),
    ("borrow", "borrows", "borrowed", "borrowing"), ("order", "orders", "ordered", "ordering"),
    ("forget", "forgets", "forgot", "forgetting"), ("remember", "remembers", "remembered", "remembering"),
    ("lose", "loses", "lost", "losing"), ("keep", "keeps", "kept", "keeping"),
    ("send", "sends", "sent", "sending"), ("read", "reads", "read", "reading"),
    ("write", "writes", "wrote", "writing"), ("draw", "draws", "drew", "drawing"),
    ("check", "checks", "checked", "checking"), ("move", "moves", "moved", "moving"),
    ("choose", "chooses", "chose", "choosing"), ("visit", "visits", "visited", "visiting"),
    ("describe", "describes", "described", "describing"), ("explain", "explains", "explained", "explaining"),
    ("show", "shows", "showed", "showing"), ("wash", "washes", "washed", "washing"),
)
# Intransitive verbs of motion, used with "to <place>".
MOTION_VERBS: tuple[tuple[str, str, str, str], ...] = (
    ("go", "goes", "went", "going"), ("walk", "walks", "walked", "walking"),
    ("drive", "drives", "drove", "driving"), ("travel", "travels", "travelled", "travelling"),
    ("run", "runs", "ran", "running"), ("fly", "flies", "flew", "flying"),
    ("hurry", "hurries", "hurried", "hurrying"), ("return", "returns", "returned", "returning"),
)
NUMBERS: tuple[str, ...] = (
    "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "fifteen", "twenty", "thirty", "forty", "fifty", "a hundred", "twenty-one", "thirty-five",
    "ninety-nine", "a few", "several", "many",
)
TIMES: tuple[str, ...] = (
    "yesterday", "today", "tomorrow", "last week", "last night", "this morning", "on Monday",
    "on Tuesday", "on Friday", "on Sunday", "every day", "in the evening", "after lunch",
    "at seven o'clock", "at half past nine", "next year", "in April", "in the summer",
)
ADVERBS: tuple[str, ...] = (
    "quickly", "slowly", "carefully", "quietly", "happily", "suddenly", "finally", "really",
    "usually", "always", "never", "often", "sometimes", "probably", "almost",
)
PREPOSITIONS: tuple[str, ...] = ("near", "behind", "under", "next to", "in front of", "inside", "beside")
INTERJECTIONS: tuple[str, ...] = ("Oh", "Wow", "Well", "Look", "Listen", "Hey", "Yes", "No", "Great")
SPEECH_VERBS: tuple[str, ...] = ("said", "asked", "whispered", "shouted", "replied", "told me")
PRONOUN_SUBJECTS: tuple[tuple[str, bool], ...] = (  # (pronoun, takes third-person -s)
    ("I", False), ("you", False), ("we", False), ("they", False), ("he", True), ("she", True),
)
NEGATIVE_AUX: tuple[tuple[str, bool], ...] = (  # contraction, third person?
    ("don't", False), ("doesn't", True), ("didn't", False), ("can't", False), ("won't", False),
)

_MIN_WORDS = 6
_MAX_WORDS = 16


class SentenceGenerator:
    """Draws English sentences from a seeded template grammar.

    Each call to :meth:`sentence` consumes randomness from the generator's own
    :class:`random.Random`, so the n-th sentence depends only on the seed.
    """

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._templates: Sequence[Callable[[], str]] = (
            self._t_simple_past,
            self._t_present_third,
            self._t_motion,
            self._t_quote,
            self._t_question,
            self._t_yes_no_question,
            self._t_exclaim,
            self._t_but,
            self._t_there_are,
            self._t_negative,
            self._t_address_semicolon,
            self._t_colon_list,
            self._t_hyphen,
            self._t_its,
            self._t_because,
        )

    # ---- public -----------------------------------------------------------------
    def sentence(self) -> str:
        """One sentence of 6-16 words (retries templates until the length fits)."""
        while True:
            text = _tidy(self._rng.choice(self._templates)())
            if _MIN_WORDS <= len(text.split()) <= _MAX_WORDS:
                return text

    def sentences(self, n: int) -> list[str]:
        return [self.sentence() for _ in range(n)]

    # ---- phrase builders --------------------------------------------------------
    def _c(self, items: Sequence[str]) -> str:
        return self._rng.choice(items)

    def _p(self, prob: float) -> bool:
        return self._rng.random() < prob

    def _person(self) -> str:
        r = self._rng.random()
        if r < 0.35:
            return f"{self._c(TITLES)} {self._c(SURNAMES)}"
        if r < 0.75:
            return self._c(FIRST_NAMES)
        return f"{self._c(FIRST_NAMES)} {self._c(SURNAMES)}"

    def _noun_phrase(self, allow_plural: bool = True) -> str:
        r = self._rng.random()
        adj = f"{self._c(ADJECTIVES)} " if self._p(0.5) else ""
        if r < 0.15:
            return f"some {adj}{self._c(MASS_NOUNS)}"
        singular, plural = self._rng.choice(NOUNS)
        if allow_plural and r < 0.4:
            det = self._c(("the", "those", "these", "my", "our", "their", "two", "three"))
            return f"{det} {adj}{plural}"
        det = self._c(("the", "a", "my", "your", "his", "her", "this", "that"))
        if det == "a" and (adj or singular)[0] in "aeiou":
            det = "an"
        return f"{det} {adj}{singular}"

    def _place_phrase(self) -> str:
        if self._p(0.25):
            return f"on {self._c(STREETS)}"
        if self._p(0.4):
            return f"{self._c(PREPOSITIONS)} {self._noun_phrase(allow_plural=False)}"
        return f"in {self._c(PLACES)}"

    def _subject(self) -> tuple[str, bool]:
        """(subject, needs third-person verb)."""
        if self._p(0.45):
            return self._rng.choice(PRONOUN_SUBJECTS)
        if self._p(0.6):
            return self._person(), True
        return self._noun_phrase(allow_plural=False), True

    def _clause(self) -> str:
        """An independent clause without final punctuation."""
        subj, _ = self._subject()
        _, _, past, _ = self._rng.choice(VERBS)
        tail = f" {self._c(TIMES)}" if self._p(0.4) else ""
        return f"{subj} {past} {self._noun_phrase()}{tail}"

    # ---- templates --------------------------------------------------------------
    def _t_simple_past(self) -> str:
        adv = f"{self._c(ADVERBS)} " if self._p(0.3) else ""
        subj, _ = self._subject()
        _, _, past, _ = self._rng.choice(VERBS)
        return f"{subj} {adv}{past} {self._noun_phrase()} {self._place_phrase()}."

    def _t_present_third(self) -> str:
        subj, third = self._subject()
        base, s_form, _, _ = self._rng.choice(VERBS)
        verb = s_form if third and subj not in ("I", "you", "we", "they") else base
        when = self._c(("every day", "on Sundays", "in the morning", "after work", "at weekends"))
        return f"{subj} {self._c(ADVERBS)} {verb} {self._noun_phrase()} {when}."

    def _t_motion(self) -> str:
        subj, _ = self._subject()
        _, _, past, _ = self._rng.choice(MOTION_VERBS)
        with_whom = f" with {self._person()}" if self._p(0.5) else ""
        return f"{subj} {past} to {self._c(PLACES)}{with_whom} {self._c(TIMES)}."

    def _t_quote(self) -> str:
        inner = self._clause()
        inner = inner[0].upper() + inner[1:]
        end = self._c((".", "!", "?"))
        return f'{self._person()} {self._c(SPEECH_VERBS)}, "{inner}{end}"'

    def _t_question(self) -> str:
        wh = self._c(("Why", "When", "Where", "How"))
        aux, subj = self._c((("did", "you"), ("did", "she"), ("did", "they"), ("will", "we"), ("can", "I")))
        base, _, _, _ = self._rng.choice(VERBS)
        return f"{wh} {aux} {subj} {base} {self._noun_phrase()} {self._place_phrase()}?"

    def _t_yes_no_question(self) -> str:
        opener = self._c(("Do you think", "Is it true that", "Did you know that", "Are you sure"))
        return f"{opener} {self._clause()}?"

    def _t_exclaim(self) -> str:
        return f"{self._c(INTERJECTIONS)}! {self._clause()}."

    def _t_but(self) -> str:
        conj = self._c(("but", "and", "so"))
        return f"{self._clause()}, {conj} {self._clause()}."

    def _t_there_are(self) -> str:
        adj = self._c(ADJECTIVES)
        _, plural = self._rng.choice(NOUNS)
        verb = self._c(("are", "were"))
        return f"There {verb} {self._c(NUMBERS)} {adj} {plural} {self._place_phrase()}."

    def _t_negative(self) -> str:
        subj, third = self._rng.choice(PRONOUN_SUBJECTS)
        options = [n for n, t in NEGATIVE_AUX if t == third or n in ("didn't", "can't", "won't")]
        neg = self._c(options)
        base, _, _, _ = self._rng.choice(VERBS)
        hedge = self._c(("I think", "you know", "of course", "I'm afraid"))
        tail = f", {hedge}" if self._p(0.3) else ""
        return f"{subj.capitalize() if subj != 'I' else subj} {neg} {base} {self._noun_phrase()}{tail}."

    def _t_address_semicolon(self) -> str:
        person = f"{self._c(TITLES)} {self._c(SURNAMES)}"
        return f"{person} lives on {self._c(STREETS)}; {self._clause()}."

    def _t_colon_list(self) -> str:
        items = [self._rng.choice(NOUNS)[1] for _ in range(3)]
        lead = self._c(("We need three things", "Here is the list", "Remember the order", "The shop had"))
        return f"{lead}: {items[0]}, {items[1]} and {items[2]}."

    def _t_hyphen(self) -> str:
        singular, _ = self._rng.choice(NOUNS)
        adj = self._c(HYPHENATED)
        det = "an" if adj[0] in "aeiou" else "a"
        return f"{self._person()} has {det} {adj} {singular} {self._place_phrase()}."

    def _t_its(self) -> str:
        return f"It's {self._c(('a', 'such a', 'really a'))} {self._c(ADJECTIVES)} day, isn't it?" \
            if self._p(0.3) else f"It's {self._c(WEATHER_ADJECTIVES)} {self._place_phrase()} {self._c(TIMES)}."

    def _t_because(self) -> str:
        reason = self._c(("it was late", "the weather was bad", "nobody was at home",
                          "the shop was closed", "we didn't have enough money", "it's too far"))
        return f"{self._clause()} because {reason}."


def _tidy(text: str) -> str:
    """Capitalise the first letter and after sentence-internal '!'/'?'; squeeze spaces and '..'."""
    text = re.sub(r"\s+", " ", text).strip()
    text = text.replace("..", ".")  # "Baker St." at the end of a sentence
    text = text[0].upper() + text[1:]
    return re.sub(r"([!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


_NON_WORD = re.compile(r"[^A-Z' ]+")


def to_librispeech_transcript(text: str) -> str:
    """LibriSpeech style: upper case, no punctuation except apostrophes.

    Hyphens separate words (``WELL KNOWN``) as in LibriSpeech transcripts.
    """
    up = text.upper().replace("-", " ")
    up = _NON_WORD.sub(" ", up)
    words = [w.strip("'") for w in up.split()]
    return " ".join(w for w in words if w)
