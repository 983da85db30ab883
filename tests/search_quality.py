"""The search quality set: real books, and what people type to find them (issue 9).

``BOOKS`` are real books with their real authors, years and categories, and a
one-sentence description of what each is about. ``QUERIES`` are what a customer
types in the search box, each with the title it must find among its first ten
results: exact and partial titles, partial names, words in another order,
typos within the issue's budget (words of 5 to 8 letters one typo, of 9 or
more two; a swap of neighbouring letters is one), accents typed or left out
both ways, ``ø ł ß æ œ å ö``, prefixes typed so far, quoted phrases and
``-word`` exclusions.

Used by tests/test_search_quality.py, which posts the books through the API
and measures recall@1 and recall@10 of ``GET /books?q=``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class QualityBook:
    title: str
    author: str
    year: int
    categories: tuple[str, ...]
    description: str | None


@dataclass(frozen=True)
class QualityQuery:
    q: str
    expected: str  # the title that must be among the first ten results
    kind: str  # what the query tries: word, words, order, partial, typo, accent, prefix, ...


FANTASY = "Fantasy"
SCIENCE_FICTION = "Science Fiction"
CLASSICS = "Classics"
LITERARY = "Literary Fiction"
HORROR = "Horror"
PHILOSOPHY = "Philosophy"
CHILDREN = "Children's Books"
MAGICAL_REALISM = "Magical Realism"
NORDIC = "Nordic Literature"
DYSTOPIA = "Dystopian Fiction"
HUMOUR = "Humour"
SHORT_STORIES = "Short Stories"
HISTORICAL = "Historical Fiction"
ESSAYS = "Essays"
SELF_HELP = "Self-Help"

BOOKS: list[QualityBook] = [
    QualityBook(
        "The Hobbit",
        "J. R. R. Tolkien",
        1937,
        (FANTASY, CHILDREN),
        "Bilbo Baggins, a home-loving hobbit, joins thirteen dwarves and the wizard Gandalf "
        "on a quest to take back their treasure from the dragon Smaug.",
    ),
    QualityBook(
        "The Fellowship of the Ring",
        "J. R. R. Tolkien",
        1954,
        (FANTASY,),
        "Frodo Baggins leaves the Shire with eight companions to destroy the One Ring "
        "forged by the Dark Lord Sauron.",
    ),
    QualityBook(
        "The Silmarillion",
        "J. R. R. Tolkien",
        1977,
        (FANTASY,),
        "The myths and early history of Middle-earth, from its creation to the wars "
        "over three jewels made by the elf Fëanor, edited after the author's death.",
    ),
    QualityBook(
        "One Hundred Years of Solitude",
        "Gabriel García Márquez",
        1967,
        (MAGICAL_REALISM, LITERARY),
        "Seven generations of the Buendía family live, love and decline in the "
        "isolated town of Macondo.",
    ),
    QualityBook(
        "Love in the Time of Cholera",
        "Gabriel García Márquez",
        1985,
        (LITERARY,),
        "Florentino Ariza waits more than fifty years for Fermina Daza, who turned him "
        "down when they were young.",
    ),
    QualityBook(
        "Jane Eyre",
        "Charlotte Brontë",
        1847,
        (CLASSICS,),
        "An orphaned governess falls in love with her employer, Mr Rochester, and "
        "uncovers the secret he keeps locked away at Thornfield Hall.",
    ),
    QualityBook(
        "Wuthering Heights",
        "Emily Brontë",
        1847,
        (CLASSICS,),
        "The foundling Heathcliff's love for Catherine Earnshaw turns to revenge on two "
        "families of the Yorkshire moors.",
    ),
    QualityBook(
        "Crime and Punishment",
        "Fyodor Dostoyevsky",
        1866,
        (CLASSICS, LITERARY),
        "Raskolnikov, a destitute former student in Saint Petersburg, murders a "
        "pawnbroker and is tormented by what he has done.",
    ),
    QualityBook(
        "The Brothers Karamazov",
        "Fyodor Dostoyevsky",
        1880,
        (CLASSICS, PHILOSOPHY),
        "Three brothers of very different natures are drawn into the murder of their "
        "father, Fyodor Pavlovich Karamazov.",
    ),
    QualityBook(
        "A Wizard of Earthsea",
        "Ursula K. Le Guin",
        1968,
        (FANTASY, CHILDREN),
        "The young mage Ged, out of pride, sets loose a shadow upon the world and must "
        "hunt it across the islands of an archipelago.",
    ),
    QualityBook(
        "The Left Hand of Darkness",
        "Ursula K. Le Guin",
        1969,
        (SCIENCE_FICTION,),
        "Genly Ai, an envoy to the frozen planet Gethen, tries to understand a people "
        "whose sex is not fixed.",
    ),
    QualityBook(
        "The Dispossessed",
        "Ursula K. Le Guin",
        1974,
        (SCIENCE_FICTION, PHILOSOPHY),
        "The physicist Shevek travels from the anarchist moon Anarres to Urras, the "
        "rich planet his people left behind.",
    ),
    QualityBook(
        "Frankenstein",
        "Mary Shelley",
        1818,
        (HORROR, CLASSICS, SCIENCE_FICTION),
        "The student Victor Frankenstein gives life to a creature assembled from dead "
        "matter, then abandons it.",
    ),
    QualityBook(
        "Dracula",
        "Bram Stoker",
        1897,
        (HORROR, CLASSICS),
        "A Transylvanian count moves to England, and a small band led by Abraham Van "
        "Helsing sets out to destroy him.",
    ),
    QualityBook(
        "Harry Potter and the Philosopher's Stone",
        "J. K. Rowling",
        1997,
        (FANTASY, CHILDREN),
        "On his eleventh birthday an orphan learns that he is a wizard and is taken to "
        "Hogwarts School of Witchcraft and Wizardry.",
    ),
    QualityBook(
        "Harry Potter and the Chamber of Secrets",
        "J. K. Rowling",
        1998,
        (FANTASY, CHILDREN),
        "In his second year at Hogwarts, Harry looks for whoever is turning students to stone.",
    ),
    QualityBook(
        "Either/Or",
        "Søren Kierkegaard",
        1843,
        (PHILOSOPHY,),
        "Papers of two fictional authors set a life lived for pleasure against a life "
        "of ethical duty and choice.",
    ),
    QualityBook(
        "Fear and Trembling",
        "Søren Kierkegaard",
        1843,
        (PHILOSOPHY,),
        "Writing as Johannes de silentio, the author asks what Abraham's readiness to "
        "sacrifice Isaac says about faith.",
    ),
    QualityBook(
        "Solaris",
        "Stanisław Lem",
        1961,
        (SCIENCE_FICTION,),
        "Scientists studying a planet covered by a living ocean are each visited by "
        "someone from their past.",
    ),
    QualityBook(
        "The Cyberiad",
        "Stanisław Lem",
        1965,
        (SCIENCE_FICTION, HUMOUR),
        "Comic tales of Trurl and Klapaucius, two robot constructors who build "
        "ever stranger machines.",
    ),
    QualityBook(
        "Die Blechtrommel",
        "Günter Grass",
        1959,
        (LITERARY, HISTORICAL),
        "Oskar Matzerath, who decides at three never to grow up, drums his way through "
        "Danzig before, during and after the Second World War.",
    ),
    QualityBook(
        "Das Schloß",
        "Franz Kafka",
        1926,
        (CLASSICS, LITERARY),
        "A land surveyor known only as K. tries in vain to reach the authorities who "
        "govern a village from its castle.",
    ),
    QualityBook(
        "Frihetens øyeblikk",
        "Jens Bjørneboe",
        1966,
        (NORDIC, LITERARY),
        "The first novel of the trilogy on the history of bestiality, the notes of a "
        "court clerk cataloguing human cruelty.",
    ),
    QualityBook(
        "Sult",
        "Knut Hamsun",
        1890,
        (NORDIC, CLASSICS),
        "A starving young writer wanders the streets of Kristiania, proud and half-delirious.",
    ),
    QualityBook(
        "Frøken Smillas fornemmelse for sne",
        "Peter Høeg",
        1992,
        (NORDIC,),
        "Smilla Jaspersen, who grew up in Greenland, doubts that a boy's fall from a "
        "Copenhagen roof was an accident.",
    ),
    QualityBook(
        "Nils Holgerssons underbara resa genom Sverige",
        "Selma Lagerlöf",
        1906,
        (NORDIC, CHILDREN),
        "A boy shrunk to the size of a thumb travels the length of Sweden on the back of a goose.",
    ),
    QualityBook(
        "Pippi Långstrump",
        "Astrid Lindgren",
        1945,
        (NORDIC, CHILDREN),
        "The strongest girl in the world lives on her own with a horse and a monkey in "
        "Villa Villekulla.",
    ),
    QualityBook(
        "Sjálfstætt fólk",
        "Halldór Laxness",
        1934,
        (NORDIC, LITERARY),
        "Bjartur of Summerhouses fights to stay his own master on a poor sheep farm in Iceland.",
    ),
    QualityBook(
        "L'Étranger",
        "Albert Camus",
        1942,
        (LITERARY, PHILOSOPHY),
        "Meursault, a detached clerk in French Algeria, kills a man on a beach and is "
        "tried as much for his indifference as for the crime.",
    ),
    QualityBook(
        "L'Œuvre",
        # Catalogues in English often print him without the accent.
        "Emile Zola",
        1886,
        (CLASSICS,),
        "The painter Claude Lantier wears himself out on a masterpiece he cannot finish, "
        "in the Paris of the Salon.",
    ),
    QualityBook(
        "Les Misérables",
        "Victor Hugo",
        1862,
        (CLASSICS, HISTORICAL),
        "The former convict Jean Valjean seeks a new life while the police inspector "
        "Javert hunts him across France.",
    ),
    QualityBook(
        "Madame Bovary",
        "Gustave Flaubert",
        1857,
        (CLASSICS,),
        "Emma, a country doctor's wife in Normandy, escapes her boredom through affairs "
        "and debts that ruin her.",
    ),
    QualityBook(
        "Le Petit Prince",
        "Antoine de Saint-Exupéry",
        1943,
        (CHILDREN, CLASSICS),
        "A pilot stranded in the Sahara meets a little prince who has come from a tiny asteroid.",
    ),
    QualityBook(
        "The Master and Margarita",
        "Mikhail Bulgakov",
        1967,
        (LITERARY, FANTASY),
        "The Devil and his retinue visit Soviet Moscow, while a novel about Pontius "
        "Pilate unfolds alongside.",
    ),
    QualityBook(
        "Anna Karenina",
        "Leo Tolstoy",
        1878,
        (CLASSICS,),
        "A married woman's affair with Count Vronsky sets her against the society of "
        "imperial Russia.",
    ),
    QualityBook(
        "War and Peace",
        "Leo Tolstoy",
        1869,
        (CLASSICS, HISTORICAL),
        "Aristocratic families of Russia live through the Napoleonic Wars and the "
        "French invasion of 1812.",
    ),
    QualityBook(
        "Don Quixote",
        "Miguel de Cervantes",
        1605,
        (CLASSICS, HUMOUR),
        "A gentleman of La Mancha who has read too many tales of chivalry rides out as "
        "a knight, with Sancho Panza as his squire.",
    ),
    QualityBook(
        "Ficciones",
        "Jorge Luis Borges",
        1944,
        (SHORT_STORIES, LITERARY),
        "Short stories of labyrinths, infinite libraries and imaginary worlds.",
    ),
    QualityBook(
        "La casa de los espíritus",
        "Isabel Allende",
        1982,
        (MAGICAL_REALISM,),
        "Three generations of the Trueba family live through the political upheavals "
        "of a South American country.",
    ),
    QualityBook(
        "Nineteen Eighty-Four",
        "George Orwell",
        1949,
        (DYSTOPIA, SCIENCE_FICTION, CLASSICS),
        "Winston Smith, a clerk at the Ministry of Truth, rebels against the Party and "
        "its ever-watching Big Brother.",
    ),
    QualityBook(
        "Brave New World",
        "Aldous Huxley",
        1932,
        (DYSTOPIA, SCIENCE_FICTION),
        "In a World State of engineered castes and the drug soma, a man raised outside "
        "it refuses to conform.",
    ),
    QualityBook(
        "Dune",
        "Frank Herbert",
        1965,
        (SCIENCE_FICTION,),
        "Paul Atreides comes of age on the desert planet Arrakis, the only source of "
        "the spice melange.",
    ),
    QualityBook(
        "The Hitchhiker's Guide to the Galaxy",
        "Douglas Adams",
        1979,
        (SCIENCE_FICTION, HUMOUR),
        "Arthur Dent is rescued by his alien friend Ford Prefect minutes before the "
        "Earth is demolished for a hyperspace bypass.",
    ),
    QualityBook(
        "The Colour of Magic",
        "Terry Pratchett",
        1983,
        (FANTASY, HUMOUR),
        "The inept wizard Rincewind becomes the guide of Twoflower, the first tourist "
        "on the Discworld.",
    ),
    QualityBook(
        "Pride and Prejudice",
        "Jane Austen",
        1813,
        (CLASSICS,),
        "Elizabeth Bennet and the proud Mr Darcy misjudge each other before they "
        "change their minds.",
    ),
    QualityBook(
        "Moby-Dick",
        "Herman Melville",
        1851,
        (CLASSICS,),
        "Captain Ahab drives the whaler Pequod after the white whale that took his "
        "leg; Ishmael tells the tale.",
    ),
    QualityBook(
        "Beloved",
        "Toni Morrison",
        1987,
        (LITERARY, HISTORICAL),
        "In Ohio after the Civil War, Sethe, who escaped slavery, is haunted by the "
        "daughter she lost.",
    ),
    QualityBook(
        "Things Fall Apart",
        "Chinua Achebe",
        1958,
        (LITERARY, CLASSICS),
        "Okonkwo, a proud man of an Igbo village, sees his world broken by missionaries "
        "and colonial rule.",
    ),
    QualityBook(
        "Norwegian Wood",
        "Haruki Murakami",
        1987,
        (LITERARY,),
        "Toru Watanabe looks back on his student years in Tokyo and on two very "
        "different young women he loved.",
    ),
    QualityBook(
        "The Name of the Rose",
        "Umberto Eco",
        1980,
        (HISTORICAL,),
        "In 1327 the Franciscan William of Baskerville investigates a series of deaths "
        "in an Italian abbey with a great library.",
    ),
    QualityBook(
        "Invisible Cities",
        "Italo Calvino",
        1972,
        (LITERARY, SHORT_STORIES),
        "Marco Polo describes to Kublai Khan one imagined city after another.",
    ),
    QualityBook(
        "The Captive Mind",
        "Czesław Miłosz",
        1953,
        (ESSAYS, PHILOSOPHY),
        "An essay on how writers and thinkers of Eastern Europe came to serve the "
        "Stalinist regimes.",
    ),
    QualityBook(
        "The Good Soldier Švejk",
        "Jaroslav Hašek",
        1923,
        (HUMOUR, CLASSICS),
        "A cheerful Czech soldier confounds the Austro-Hungarian army during the First World War.",
    ),
    QualityBook(
        "The Cafe on the Edge of the World",
        "John Strelecky",
        2003,
        (SELF_HELP,),
        None,  # a book without a description
    ),
]

Q = QualityQuery

QUERIES: list[QualityQuery] = [
    # Words of the title, the name, the description.
    Q("hobbit", "The Hobbit", "word"),
    Q("the hobbit", "The Hobbit", "words"),
    Q("tolkien hobbit", "The Hobbit", "words"),
    Q("crime and punishment", "Crime and Punishment", "words"),
    Q("madame bovary", "Madame Bovary", "words"),
    Q("dune herbert", "Dune", "words"),
    Q("brave new world", "Brave New World", "words"),
    Q("arrakis", "Dune", "description"),
    Q("big brother orwell", "Nineteen Eighty-Four", "description"),
    Q("melville whale", "Moby-Dick", "description"),
    Q("moby dick", "Moby-Dick", "words"),
    Q("nineteen eighty four", "Nineteen Eighty-Four", "words"),
    Q("wizards", "A Wizard of Earthsea", "stemming"),
    Q("brothers", "The Brothers Karamazov", "word"),
    Q("philosophers stone", "Harry Potter and the Philosopher's Stone", "words"),
    Q("hitchhikers guide", "The Hitchhiker's Guide to the Galaxy", "words"),
    Q("things fall apart", "Things Fall Apart", "words"),
    Q("discworld pratchett", "The Colour of Magic", "description"),
    # Partial names.
    Q("marquez", "One Hundred Years of Solitude", "partial"),
    Q("le guin", "The Left Hand of Darkness", "partial"),
    Q("kierkegaard", "Fear and Trembling", "partial"),
    Q("rowling", "Harry Potter and the Philosopher's Stone", "partial"),
    Q("flaubert", "Madame Bovary", "partial"),
    Q("achebe", "Things Fall Apart", "partial"),
    Q("umberto eco rose", "The Name of the Rose", "partial"),
    Q("emily bronte", "Wuthering Heights", "partial"),
    # Word order.
    Q("punishment crime", "Crime and Punishment", "order"),
    Q("solitude hundred years", "One Hundred Years of Solitude", "order"),
    Q("heights wuthering", "Wuthering Heights", "order"),
    Q("hobbit tolkien", "The Hobbit", "order"),
    Q("murakami norwegian wood", "Norwegian Wood", "order"),
    # Typos: one in words of 5 to 8 letters, up to two from 9 letters.
    Q("tolkein hobit", "The Hobbit", "typo"),
    Q("frankenstien", "Frankenstein", "typo"),
    Q("dostoyevsky crime", "Crime and Punishment", "typo"),
    Q("dostoevsky karamazov", "The Brothers Karamazov", "typo"),
    Q("erathsea", "A Wizard of Earthsea", "typo"),
    Q("blechtromel", "Die Blechtrommel", "typo"),
    Q("bulgakow", "The Master and Margarita", "typo"),
    Q("karenina tolstoi", "Anna Karenina", "typo"),
    Q("don quijote", "Don Quixote", "typo"),
    Q("stoker draclua", "Dracula", "typo"),
    Q("hitchiker", "The Hitchhiker's Guide to the Galaxy", "typo"),
    Q("prejudise", "Pride and Prejudice", "typo"),
    Q("murakmai", "Norwegian Wood", "typo"),
    Q("color of magic", "The Colour of Magic", "typo"),
    Q("silmarilion", "The Silmarillion", "typo"),
    Q("guenter grass", "Die Blechtrommel", "typo"),
    # Accents and special letters, typed or not, both ways.
    Q("márquez solitude", "One Hundred Years of Solitude", "accent"),
    Q("garcia marquez cholera", "Love in the Time of Cholera", "accent"),
    Q("brontë wuthering", "Wuthering Heights", "accent"),
    Q("charlotte bronte", "Jane Eyre", "accent"),
    Q("soren kierkegaard fear", "Fear and Trembling", "accent"),
    Q("søren kierkegaard either or", "Either/Or", "accent"),
    Q("stanislaw lem", "Solaris", "accent"),
    Q("stanisław lem cyberiad", "The Cyberiad", "accent"),
    Q("gunter grass", "Die Blechtrommel", "accent"),
    Q("günter grass blechtrommel", "Die Blechtrommel", "accent"),
    Q("das schloss", "Das Schloß", "accent"),
    Q("kafka schloß", "Das Schloß", "accent"),
    Q("bjorneboe", "Frihetens øyeblikk", "accent"),
    Q("frihetens oyeblikk", "Frihetens øyeblikk", "accent"),
    Q("peter hoeg smilla", "Frøken Smillas fornemmelse for sne", "accent"),
    Q("froken smillas", "Frøken Smillas fornemmelse for sne", "accent"),
    Q("lagerlof nils", "Nils Holgerssons underbara resa genom Sverige", "accent"),
    Q("pippi langstrump", "Pippi Långstrump", "accent"),
    Q("sjalfstaett folk", "Sjálfstætt fólk", "accent"),
    Q("halldor laxness", "Sjálfstætt fólk", "accent"),
    Q("l'oeuvre zola", "L'Œuvre", "accent"),
    Q("émile zola", "L'Œuvre", "accent"),
    Q("l'etranger camus", "L'Étranger", "accent"),
    Q("les miserables", "Les Misérables", "accent"),
    Q("casa espiritus allende", "La casa de los espíritus", "accent"),
    Q("saint exupery petit prince", "Le Petit Prince", "accent"),
    Q("milosz captive mind", "The Captive Mind", "accent"),
    Q("hasek svejk", "The Good Soldier Švejk", "accent"),
    Q("café edge of the world", "The Cafe on the Edge of the World", "accent"),
    Q("HOBBIT", "The Hobbit", "case"),
    # As-you-type: the last word is a prefix (2 letters or more).
    Q("harry pot", "Harry Potter and the Philosopher's Stone", "prefix"),
    Q("le gu", "A Wizard of Earthsea", "prefix"),
    Q("fellowship of the ri", "The Fellowship of the Ring", "prefix"),
    Q("wuther", "Wuthering Heights", "prefix"),
    Q("karam", "The Brothers Karamazov", "prefix"),
    Q("kierk", "Either/Or", "prefix"),
    Q("gabriel garc", "One Hundred Years of Solitude", "prefix"),
    Q("one hundred years of sol", "One Hundred Years of Solitude", "prefix"),
    Q("the silm", "The Silmarillion", "prefix"),
    Q("master and marg", "The Master and Margarita", "prefix"),
    Q("bjørn", "Frihetens øyeblikk", "prefix"),
    Q("harry potter chamber", "Harry Potter and the Chamber of Secrets", "words"),
    # Quoted phrases.
    Q('"left hand"', "The Left Hand of Darkness", "quote"),
    Q('"left hand" darkness', "The Left Hand of Darkness", "quote"),
    Q('"one hundred years"', "One Hundred Years of Solitude", "quote"),
    Q('"brothers karamazov"', "The Brothers Karamazov", "quote"),
    Q('"the name of the rose"', "The Name of the Rose", "quote"),
    # Exclusions.
    Q("harry potter -chamber", "Harry Potter and the Philosopher's Stone", "exclusion"),
    Q("tolkien -hobbit -silmarillion", "The Fellowship of the Ring", "exclusion"),
    Q("le guin -earthsea -darkness", "The Dispossessed", "exclusion"),
    Q("bronte -jane", "Wuthering Heights", "exclusion"),
    Q("garcia marquez -cholera", "One Hundred Years of Solitude", "exclusion"),
    Q("lem -solaris", "The Cyberiad", "exclusion"),
]
