#!/usr/bin/env python3
"""Builds data/synonyms/synonyms.tsv from WordNet 3.0 (Debian package `wordnet-base`).

Deterministic: the same WordNet files give the same bytes out. Usage:
    python3 data/synonyms/build_synonyms.py [/usr/share/wordnet] > data/synonyms/synonyms.tsv

Only pairs that are safe to swap without changing meaning are kept (conservative by design):
  * a word enters a group only through its DOMINANT sense: the group is the set of words whose
    most frequent sense (by SemCor tag counts, cntlist.rev) is the same synset, so grouping is
    transitive by construction (no a~b, b~c, a!~c chains);
  * that sense carries >= MIN_DOMINANCE of the word's tagged uses across ALL parts of speech
    (so "fast" adjective/adverb/verb/noun ambiguity is excluded), with >= MIN_TAGS tags;
  * adjectives, adverbs and nouns only (no verbs: inflection is ambiguous); lowercase ASCII
    letters only, length >= 3, not an inflected form or base listed in WordNet's *.exc files,
    not a function word, a number word or a known idiom-prone word;
  * members of a group share the a/an class of their first letter (vowel vs consonant; words
    starting with "u" or a silent "h" are dropped), so "a"/"an" stays grammatical;
  * nouns: only those with no verb sense at all (so "-s" forms are not verbs), and the plural
    never matches because only the base form is listed.
Output: one group per line, members tab-separated, most frequent first; a header comment
names the source and the parameters.
"""
import collections
import os
import re
import sys

MIN_DOMINANCE = float(os.environ.get("DOM", "0.6"))
MIN_TAGS = int(os.environ.get("TAGS", "2"))
MAX_GROUP = 4

STOP = set("""a an the and or but if then else of to in on at by for with from as is are was were be
been being it its this that these those there here what which who whom whose when where why how all
any both each few more most other some such no nor not only own same so than too very can will just
one two three four five six seven eight nine ten first second third last next new old also even
still well much many lot lots way thing things kind sort part time times people person man men
right left up down out off over under again further once ever never always often hence thus
mean means like yes okay ok fine sure""".split())
# Reviewed by hand after a build: words whose dominant WordNet sense is safe but whose everyday
# use is not (prepositions WordNet only knows as adverbs, names, register shifts, verb forms,
# idioms, partial synonyms). Keeping the list in the script keeps the build reproducible.
BLOCK = set("""about august christ jesus reb johnny john toilet lavatory darned goddam goddamned damn
goddamn militia reserves marketing selling merchandising looking sounding projected sticking pains
striving pecs pectoral cowboy puncher jimdandy jimhickey saloon ginmill government regime finding
determination housing lodging detection sensing peculiar queer remarkable singular severely badly
soon presently heaven paradise main chief however nevertheless nonetheless satire sarcasm
delightful delicious golden gilded gospel gospels bible scripture biblical scriptural creature beast
lad fella papa dad daddy mama mommy grandmother granny grandma idiot imbecile cruel savage brooding
reflective keen penetrating older elderly steps stairs dozens scores tons guardian defender cattle
cows religious spiritual slowing deceleration rating valuation revenue receipts promotion publicity
inherent integral disappointed frustrated decorator designer diary journal sinister threatening swift
fleet pitcher hurler slugger hitter teen teenage troops soldiery concept conception dear beloved
manner mode precious cherished pasted glued maniac madman divinity deity mischief shenanigan
preaching sermon pastor parson reporter newsman tub bathtub motionless static marked pronounced
looking resultant consequent socialist socialistic phonology phonemics surely certainly
dependence dependency concurrent simultaneous epoch era city metropolis guidance counseling financial
fiscal expansion enlargement recurrent repeated suitable suited later subsequently simply merely
basically fundamentally""".split())
# Second review (2026-11, reading every group that occurs in 2,932 real teacher answers and the
# swaps it makes in context): words whose swap can change meaning, with the reason.
REVIEW_BLOCK = {
    "noted": "verb participle: 'as noted above' is not 'as famous above'",
    "located": "verb: 'I located the bug' is not 'I situated the bug'",
    "measuring": "verb form: 'measuring the distance' is not 'measurement the distance'",
    "absorbed": "participle: 'absorbed light' is not 'engrossed light'",
    "lasting": "participle: 'lasting two hours' is not 'permanent two hours'",
    "touching": "participle: 'touching the screen'",
    "striking": "participle: 'striking the ball'",
    "enduring": "participle: 'enduring pain' (suffering)",
    "glaring": "participle: 'glaring at'",
    "disturbing": "transitive participle: 'disturbing the peace' is not 'distressing the peace'",
    "pestered": "weaker than 'harassed'",
    "carven": "'carved out' is not 'carven out'",
    "curving": "'curved' (already bent) differs from 'curving'",
    "specially": "'specially designed' (for a purpose) is not 'especially designed'",
    "vivacious": "said of people; 'vibrant colours' are not 'vivacious colours'",
    "systematically": "'consistently' is not 'methodically'",
    "narrative": "'the narrative of the film' / 'narrative structure' is not 'tale'",
    "fairly": "also 'justly': 'treated fairly' is not 'treated moderately'",
    "strictly": "'strictly necessary' / 'strictly speaking' is not 'purely'",
    "lifelike": "'vivid colours' are not 'lifelike colours'",
    "motive": "'lack of motivation' is not 'lack of motive'",
    "responsiveness": "chemistry: 'reactivity' is a term of art",
    "detector": "terms of art ('smoke detector', 'sensor data')",
    "tragedy": "literary genre",
    "cryptic": "'hard to understand', not 'mysterious'",
    "precedence": "term of art ('operator precedence')",
    "penalty": "terms of art ('penalty kick', 'regularization penalty')",
    "vicinity": "'neighborhood' is a community, not a vicinity",
    "locality": "as above",
    "abstracted": "also 'extracted', 'made abstract'",
    "pupil": "also the eye; university students are not pupils",
    "textile": "adjective use: 'textile industry' is not 'cloth industry'",
    "normally": "'normally distributed' is a term of art",
    "interminable": "pejorative: 'endless possibilities' are not 'interminable possibilities'",
    "lately": "'recently released' is not 'lately released'",
    "wondrous": "archaic register",
    "bitterness": "also a taste",
    "steadfastly": "'press firmly' is not 'press steadfastly'",
    "ammo": "slang",
    "irritation": "medical: 'skin irritation' is not 'skin annoyance'",
    "contrivance": "pejorative",
    "whisky": "whisky and whiskey are different drinks by origin",
    "continuance": "legal term (an adjournment)",
    "hereinafter": "legal drafting term",
    "frightening": "'terrible at math' is not 'frightening at math'",
    "conduction": "physics: conduction (process) is not conductivity (property)",
    "staggeringly": "register",
    "madly": "'madly in love' is not 'frantically in love'",
    "blithely": "'blithely' means heedlessly",
    "merrily": "register",
    "mutely": "register",
    "soberly": "'gravely ill' is not 'soberly ill'",
    "scurrying": "small quick steps, not any hurrying",
    "tyranny": "a dictatorship is a form of government, tyranny a way of ruling",
    "evidently": "'apparently', weaker than 'obviously'",
    "reasonably": "'behave reasonably' is not 'behave moderately'",
}
# Hand-picked groups of common adverbs that LLM answers use a lot (the automatic rule above
# rejects them because they have several senses). Each member must share a WordNet synset of
# the same part of speech with the first member; the build fails otherwise. Adverbs rarely
# form terms of art, so swapping them keeps meaning.
SUPPLEMENT = [
    ("r", "often frequently"),
    ("r", "usually normally commonly ordinarily"),
    ("r", "especially particularly specially"),
    ("r", "exactly precisely"),
    ("r", "approximately roughly"),
    ("r", "nearly almost virtually"),
    ("r", "completely entirely totally wholly"),
    ("r", "currently presently"),
    ("r", "therefore consequently"),
    ("r", "extremely exceedingly"),
    ("r", "essentially basically fundamentally"),
    ("r", "separately individually"),
    ("a", "amazing astonishing"),
]
# Reviewed additions, frequent in model answers (counts from the 2,932 real teacher answers of
# bench/provenance, ~778k words). Each member must be linked in WordNet to an earlier one: they share a synset of
# that part of speech, or a WordNet gloss of one names the other
# (the build fails otherwise). Reason per group:
GLOSSED = [
    # sentence connectives: "Additionally, …" = "Furthermore, …" = "Moreover, …" (112+11+27 uses);
    # WordNet glosses "additionally" as "in addition, by way of addition; furthermore".
    ("r", "additionally furthermore moreover"),
]
# Two-word phrases that swap as a whole. Each member's second word must share a WordNet synset
# with the first member's (same part of speech).
PHRASES = [
    # "for example" / "for instance" (223 / 47 uses): identical after "for"; "instance" alone is not
    # ("an instance of the class"), so only the phrase is listed. example/instance share noun synset.
    ("n", "for example|for instance"),
    # "make sure" / "make certain" (99 / 0 uses) in every form of "make"; sure/certain share an
    # adjective synset. Only after "make": "be sure to" is a reminder, "be certain" is not.
    ("a", "make sure|make certain"),
    ("a", "makes sure|makes certain"),
    ("a", "making sure|making certain"),
    ("a", "made sure|made certain"),
]
# Spelling variants WordNet does not list (it has no prepositions); identical meaning, both
# standard in US and UK English. Stated here so the table stays reproducible.
VARIANTS = [
    "toward towards",  # 15 / 90 uses
]
# Contractions: a full form and its contraction mean the same thing; watermark.cc applies the
# rules that keep each swap grammatical (documented in docs/countermeasures.md):
#   negations ("do not"/"don't"): never expanded before a subject pronoun ("Don't you…?",
#     "…, isn't it?") or, sentence-initially, before a determiner (inversion); "is/are/will not"
#     after a subject pronoun belongs to the subject contraction ("it is not" -> "it's not");
#   subject contractions ("it is"/"it's"): never clause-final or stranded ("what it is",
#     "the way it is now", "as they are"), "here is" only sentence-initially, "there is" only
#     sentence-initially or after a conjunction; 's forms never before a participle-like word
#     (directly or after an adverb: "it's been", "it's already gone"), since 's is also "has".
#   've forms ("you have"/"you've"): only before a past participle (directly or after an
#     adverb: "you've already seen"), where "have" is the auxiliary; "you have two options" stays.
# Left out: 'd (had/would), "let's" ("let us
# know" is not "let's know"), "it'll"/"he'll"/"she'll"/"who's"/"they've" (rare), "am not"/"ain't".
NEGATIONS = ["do", "does", "did", "is", "are", "was", "were", "have", "has", "had", "would", "should",
             "could", "will:won't"]
SUBJECTS = ["it is:it's", "that is:that's", "there is:there's", "here is:here's", "what is:what's",
            "he is:he's", "she is:she's", "you are:you're", "we are:we're", "they are:they're",
            "i am:i'm", "you will:you'll", "we will:we'll", "i will:i'll", "they will:they'll",
            "i have:i've", "you have:you've", "we have:we've", "they have:they've"]
SILENT_H = {"hour", "honest", "honor", "honour", "heir", "herb", "honorable", "hourly", "honestly"}
VOWELS = set("aeio")


def read_index(wn, pos):
    out = {}
    with open(os.path.join(wn, "index." + pos), encoding="latin-1") as f:
        for line in f:
            if line.startswith(" "):
                continue
            parts = line.split()
            lemma, p_cnt = parts[0], int(parts[3])
            rest = parts[4 + p_cnt:]
            sense_cnt = int(rest[0])
            offsets = rest[2:2 + sense_cnt]
            out[lemma] = offsets
    return out


def read_glosses(wn):
    out = {}
    for name, pos in (("noun", "n"), ("verb", "v"), ("adj", "a"), ("adv", "r")):
        with open(os.path.join(wn, "data." + name), encoding="latin-1") as f:
            for line in f:
                if not line.startswith(" ") and "|" in line:
                    out[(pos, line.split()[0])] = line.split("|", 1)[1]
    return out


def main():
    wn = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/wordnet"
    pos_names = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
    index = {p: read_index(wn, name) for name, p in pos_names.items()}
    # tag counts: (lemma, pos) -> {sense_number: count}
    tags = collections.defaultdict(dict)
    ss = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
    with open(os.path.join(wn, "cntlist.rev"), encoding="latin-1") as f:
        for line in f:
            key, num, cnt = line.split()
            lemma, rest = key.split("%", 1)
            tags[(lemma, ss[rest[0]])][int(num)] = int(cnt)
    excluded = set()
    for name in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(wn, name + ".exc"), encoding="latin-1") as f:
            for line in f:
                excluded.update(line.split())

    groups = collections.defaultdict(list)  # (pos, synset offset) -> [(count, word)]
    for pos in ("a", "r", "n"):
        for lemma, offsets in index[pos].items():
            if not lemma.isascii() or not lemma.isalpha() or not lemma.islower() or len(lemma) < 3:
                continue
            if lemma in STOP or lemma in BLOCK or lemma in REVIEW_BLOCK or lemma in excluded or lemma in SILENT_H or lemma[0] == "u":
                continue
            if pos == "n" and lemma in index["v"]:
                continue
            total = sum(sum(tags[(lemma, p)].values()) for p in ("n", "v", "a", "r"))
            first = tags[(lemma, pos)].get(1, 0)
            if first < MIN_TAGS or total == 0 or first / total < MIN_DOMINANCE:
                continue
            groups[(pos, offsets[0])].append((first, lemma))

    lines = []
    for (pos, off), members in groups.items():
        by_class = collections.defaultdict(list)
        for cnt, w in members:
            by_class[w[0] in VOWELS].append((cnt, w))
        for cls_members in by_class.values():
            if len(cls_members) < 2:
                continue
            cls_members.sort(key=lambda cw: (-cw[0], cw[1]))
            # abbreviations ("sept" for "september", "lab" for "laboratory")
            words = [w for _, w in cls_members]
            cls_members = [(c, w) for c, w in cls_members
                           if not any(o != w and o.startswith(w) for o in words)]
            if len(cls_members) < 2:
                continue
            lines.append("\t".join(w for _, w in cls_members[:MAX_GROUP]))
    supplement_words = set()
    for pos, g in SUPPLEMENT:
        words = g.split()
        first = set(index[pos][words[0]])
        for w in words[1:]:
            if not first & set(index[pos].get(w, [])):
                sys.exit(f"supplement: {words[0]} and {w} share no {pos} synset")
        supplement_words.update(words)
    glosses = read_glosses(wn)
    for pos, g in GLOSSED:
        words = g.split()
        for i, w in enumerate(words[1:], 1):
            other = set(index[pos].get(w, []))
            linked = False
            for v in words[:i]:  # linked to some earlier member: shared synset or gloss
                mine = set(index[pos][v])
                linked = linked or bool(mine & other) or any(
                    re.search(r"\b%s\b" % x, glosses[(pos, off)])
                    for x, offs in ((w, mine), (v, other)) for off in offs)
            if not linked:
                sys.exit(f"glossed: {w} is not linked in WordNet ({pos}) to an earlier member of {g}")
        supplement_words.update(words)
    for pos, g in PHRASES:
        forms = g.split("|")
        firsts = {f.split()[0] for f in forms}
        seconds = [f.split()[1] for f in forms]
        if len(firsts) != 1 or not set(index[pos][seconds[0]]) & set.intersection(*(set(index[pos][x]) for x in seconds)):
            sys.exit(f"phrase: {g} members share no {pos} synset")
        supplement_words.update(seconds)
    kept = []
    for line in lines:
        ws = [w for w in line.split("\t") if w not in supplement_words]
        if len(ws) >= 2:
            kept.append("\t".join(ws))
    hand = [[w for w in g.split() if w not in REVIEW_BLOCK] for _, g in SUPPLEMENT + GLOSSED]
    lines = kept + ["\t".join(ws) for ws in hand if len(ws) >= 2] + ["\t".join(g.split()) for g in VARIANTS]
    lines += ["\t".join(g.split("|")) for _, g in PHRASES]
    for aux in NEGATIONS:
        aux, _, short = aux.partition(":")
        lines.append(f"{aux} not\t{short or aux + 'n' + chr(39) + 't'}")
    lines.append("cannot\tcan" + chr(39) + "t")
    for pair in SUBJECTS:
        full, short = pair.split(":")
        lines.append(f"{full}\t{short}")
    lines.sort()
    print(f"# distillguard synonym groups, built by data/synonyms/build_synonyms.py from WordNet 3.0")
    print(f"# (Princeton WordNet licence, see data/synonyms/SOURCES.md); dominance>={MIN_DOMINANCE}, "
          f"tags>={MIN_TAGS}, max group {MAX_GROUP}; {len(lines)} groups")
    for l in lines:
        print(l)


if __name__ == "__main__":
    main()
